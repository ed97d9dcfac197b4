"""What the CLI asks of a running App over HTTP."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import msgspec

from interlink._envelope import Envelope, format_time, new_id
from interlink._errors import CallError, InvalidRequest, ServiceUnavailable
from interlink._tracecontext import new_traceparent
from interlink._wire import outcome_to_error
from interlink.cli._load import CliError
from interlink.transport.http import HttpClient

__all__ = [
    "broker_publish",
    "embedded_registry",
    "fetch_services",
    "parse_json",
    "post_publish",
    "registry_call",
    "registry_services",
    "remote_call",
]


def embedded_registry(directory: str) -> str | None:
    """The URL of the embedded registry ``interlink up`` (or an app) runs here, if any."""
    from interlink.embedded import EmbeddedNats

    return EmbeddedNats(directory).running_url()


async def registry_call(registry: str, target: str, body: bytes, timeout: float) -> Any:
    """Call through discovery (with the default policy), as a service would."""
    import interlink as il

    service, dot, method = target.partition(".")
    if not dot or not service or not method:
        raise CliError(f"expected SERVICE.METHOD, got {target!r}", 2)
    client = il.App([il.Service("cli")], registry=registry, serve_http=False)
    async with client:
        try:
            return await client.call(target, msgspec.Raw(body), timeout=timeout)
        except CallError as exc:
            raise CliError(_describe(exc)) from None


async def broker_publish(broker: str, topic: str, body: bytes, key: str | None) -> None:
    """Publish straight to a broker, in an envelope from ``/cli``."""
    import interlink as il

    client = il.App([il.Service("cli")], broker=broker, serve_http=False)
    async with client:
        await client.context("cli").publish(topic, msgspec.Raw(body), key=key)


async def registry_services(registry: str) -> dict[str, list[dict[str, Any]]]:
    from interlink.discovery import registry_from_url

    backend = registry_from_url(registry)
    await backend.connect()
    try:
        return {
            name: [
                {"id": i.id, "url": i.url, "version": i.version, "health": str(i.health)}
                for i in await backend.resolve(name)
            ]
            for name in await backend.services()
        }
    finally:
        await backend.close()


def parse_json(text: str) -> bytes:
    try:
        msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise CliError(f"invalid JSON: {exc}", 2) from None
    return text.encode()


async def remote_call(url: str, target: str, body: bytes, timeout: float) -> Any:
    service, dot, method = target.partition(".")
    if not dot or not service or not method:
        raise CliError(f"expected SERVICE.METHOD, got {target!r}", 2)
    now = time.time()
    envelope = Envelope(
        id=new_id(),
        source="/cli",
        type=target,
        specversion="1.0",
        time=format_time(now),
        traceparent=new_traceparent(),
        correlationid=new_id(),
        deadline=format_time(now + timeout),
        data=msgspec.Raw(body),
    )
    client = HttpClient(max_connections=1)
    await client.open()
    try:
        outcome = await client.send(url.rstrip("/"), service, method, envelope, body, timeout)
    except ServiceUnavailable:
        raise CliError(f"cannot connect to {url} (is `interlink run` serving there?)") from None
    except CallError as exc:
        raise CliError(str(exc)) from None
    finally:
        await client.close()
    if outcome.status == 200:
        return msgspec.json.decode(outcome.body)
    error = outcome_to_error(outcome, service, method)
    raise CliError(_describe(error))


def _describe(error: CallError) -> str:
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, InvalidRequest):
        for field in error.errors:
            where = ".".join(str(p) for p in field.get("loc", [])) or "body"
            text += f"\n  {where}: {field.get('msg')}"
    return text


async def _request(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, url, data=body) as resp,
        ):
            raw = await resp.read()
    except aiohttp.ClientConnectorError:
        base = url.split("/_interlink", 1)[0]
        raise CliError(f"cannot connect to {base} (is `interlink run` serving there?)") from None
    try:
        return resp.status, msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return resp.status, {"error": {"message": raw[:200].decode("utf-8", "replace")}}


async def post_publish(url: str, topic: str, body: bytes, key: str | None) -> None:
    query = f"?key={key}" if key else ""
    status, answer = await _request(
        "POST", f"{url.rstrip('/')}/_interlink/publish/{topic}{query}", body
    )
    if status == 404:
        raise CliError(
            f"{url} has no admin API (not an interlink app, or started with admin=False)"
        )
    if status != 202:
        raise CliError(f"publish failed ({status}): {answer['error']['message']}")


async def fetch_services(url: str) -> dict[str, Any]:
    status, answer = await _request("GET", f"{url.rstrip('/')}/_interlink/services")
    if status != 200:
        raise CliError(
            f"{url} has no admin API (not an interlink app, or started with admin=False)"
        )
    result: dict[str, Any] = answer
    return result
