"""``consul://host:8500``: a Consul agent's catalog, with one TTL check per instance.

Each instance is a Consul service instance (ID = instance id) whose ``Meta`` carries what the
catalog has no field for (version, zone, weight, transports, metadata as JSON), so an instance
reads back equal to what was registered. Its TTL check ``service:{id}`` starts in the instance's
health; a heartbeat sets it again (pass, warn or fail), which restarts the TTL.

A lapsed TTL turns the check critical with the output ``TTL expired…``; Consul removes the
service only ``reap_after`` later (at least a minute). Such instances count as gone here, while
an instance registered critical on purpose (failing readiness) resolves as critical.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import aiohttp
import msgspec

from interlink._errors import ConfigurationError
from interlink.discovery._base import Health, Instance, RegistryEvent

__all__ = ["ConsulRegistry"]

log = logging.getLogger("interlink")

_T = TypeVar("_T")
_META = "interlink-"  # prefix of our Meta keys (Consul allows [A-Za-z0-9_-] only)
_LAPSED = "TTL expired"  # how Consul's output of an expired TTL check begins
_STATUS = {"passing": Health.PASSING, "warning": Health.WARNING, "critical": Health.CRITICAL}
_VERB = {Health.PASSING: "pass", Health.WARNING: "warn", Health.CRITICAL: "fail"}
_RETRY = (0.1, 5.0)  # first and longest pause before a failed watch query is tried again


class ConsulRegistry:
    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        request_timeout: float = 5.0,
        watch_wait: float = 30.0,
        reap_after: float = 60.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "consul" or not parts.hostname:
            raise ConfigurationError(f"bad Consul URL {url!r}: expected 'consul://host:port'")
        self.url = url
        self._base = f"http://{parts.netloc}/v1"
        self._headers = {"X-Consul-Token": token} if token is not None else {}
        self._timeout = request_timeout
        self._wait = watch_wait
        self._reap_after = reap_after
        self._ttls: dict[str, float] = {}
        self._session: aiohttp.ClientSession | None = None
        self._closed = asyncio.Event()

    async def connect(self) -> None:
        self._closed.clear()
        self._session = aiohttp.ClientSession(headers=self._headers)
        try:
            await self._request("GET", "/status/leader")
        except Exception as exc:
            await self.close()
            raise ConfigurationError(
                f"cannot reach the Consul agent at {self.url}: {exc}"
            ) from None

    async def close(self) -> None:
        self._closed.set()
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        self._ttls.clear()

    async def __aenter__(self) -> ConsulRegistry:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def register(self, instance: Instance, *, ttl: float) -> None:
        await self._request("PUT", "/agent/service/register", body=self._definition(instance, ttl))
        self._ttls[instance.id] = ttl
        # Re-registering may keep a check's previous status: set the one we mean explicitly.
        await self._set_check(instance, instance.health)
        await self._settle(instance.service, lambda found: found.get(instance.id) == instance)

    async def heartbeat(self, instance: Instance, *, ttl: float) -> None:
        """Restart the TTL keeping the check's status and output (a health a registrar set
        stays); a check that is gone or has lapsed is registered again."""
        check = await self._check(instance) if self._ttls.get(instance.id) == ttl else None
        output = "" if check is None else check.get("Output") or ""
        if check is None or output.startswith(_LAPSED):
            await self.register(instance, ttl=ttl)
            return
        health = _STATUS.get(check.get("Status", ""), Health.CRITICAL)
        await self._set_check(instance, health, note=output)

    async def deregister(self, instance: Instance) -> None:
        self._ttls.pop(instance.id, None)
        path = f"/agent/service/deregister/{quote(instance.id, safe='')}"
        await self._request("PUT", path, missing_ok=True)
        await self._settle(instance.service, lambda found: instance.id not in found)

    async def resolve(self, service: str) -> list[Instance]:
        found, _ = await self._health(service)
        return list(found.values())

    async def services(self) -> list[str]:
        names, _ = await self._request("GET", "/catalog/services")
        return sorted(names)

    async def watch(self, service: str) -> AsyncIterator[RegistryEvent]:
        known: dict[str, Instance] | None = None
        index, pause, failed = 0, _RETRY[0], False
        while not self._closed.is_set():
            try:
                answer = await self._unless_closed(self._health(service, index, self._wait))
            except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                log.warning("registry %s: watch of %s failed: %r", self.url, service, exc)
                failed, index = True, 0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), pause)
                pause = min(pause * 2, _RETRY[1])
                continue
            if answer is None:  # closed
                return
            found, index = answer
            pause = _RETRY[0]
            if known is not None and failed:  # changes may have been missed meanwhile
                yield RegistryEvent("reset", None)
            elif known is not None:
                for event in _diff(known, found):
                    yield event
            known, failed = found, False

    async def _health(
        self, service: str, index: int = 0, wait: float | None = None
    ) -> tuple[dict[str, Instance], int]:
        """The service's live instances by id, and the index to block on for the next change."""
        params = {"index": str(index), "wait": f"{math.ceil(wait)}s"} if wait else {}
        path = f"/health/service/{quote(service, safe='')}"
        entries, new_index = await self._request("GET", path, params=params, wait=wait)
        found = (_instance(entry) for entry in entries)
        # Consul's rule: an index that goes backwards means start again from 0.
        index = new_index if new_index >= index else 0
        return {i.id: i for i in found if i is not None}, max(index, 0)

    async def _settle(self, service: str, done: Callable[[dict[str, Instance]], bool]) -> None:
        """Wait (bounded) until the catalog shows our write: the agent syncs it asynchronously."""
        loop = asyncio.get_running_loop()
        deadline, index = loop.time() + self._timeout, 0
        while True:
            remaining = deadline - loop.time()
            found, index = await self._health(service, index, remaining if index else None)
            if done(found) or remaining <= 1:
                return

    async def _check(self, instance: Instance) -> dict[str, Any] | None:
        """The agent's view of the instance's TTL check, if it still has it."""
        quoted = _check_id(instance).replace("\\", "\\\\").replace('"', '\\"')
        params = {"filter": f'CheckID == "{quoted}"'}
        checks, _ = await self._request("GET", "/agent/checks", params=params)
        found: dict[str, Any] | None = (checks or {}).get(_check_id(instance))
        return found

    async def _set_check(self, instance: Instance, health: Health, *, note: str = "") -> None:
        path = f"/agent/check/{_VERB[health]}/{quote(_check_id(instance), safe='')}"
        await self._request("PUT", path, params={"note": note} if note else None)

    def _definition(self, instance: Instance, ttl: float) -> dict[str, Any]:
        meta = {
            f"{_META}version": instance.version,
            f"{_META}zone": instance.zone,
            f"{_META}weight": str(instance.weight),
            f"{_META}transports": ",".join(instance.transports),
            f"{_META}metadata": msgspec.json.encode(instance.metadata).decode(),
        }
        return {
            "ID": instance.id,
            "Name": instance.service,
            "Address": instance.address,
            "Port": instance.port,
            "Tags": list(instance.transports),
            "Meta": meta,
            "Weights": {"Passing": max(1, instance.weight), "Warning": 1},
            "Check": {
                "CheckID": _check_id(instance),
                "TTL": f"{math.ceil(ttl * 1000)}ms",
                "Status": instance.health.value,
                "DeregisterCriticalServiceAfter": f"{math.ceil(self._reap_after)}s",
            },
        }

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        params: dict[str, str] | None = None,
        wait: float | None = None,
        missing_ok: bool = False,
    ) -> tuple[Any, int]:
        """The decoded JSON reply and its ``X-Consul-Index``; a blocking query (``wait``) gets
        the time Consul may take (wait plus up to wait/16 of jitter) on top of the timeout."""
        if self._session is None:
            raise RuntimeError("the Consul registry is not connected")
        limit = self._timeout + (wait or 0) * 17 / 16
        async with self._session.request(
            method,
            self._base + path,
            json=body,
            params=params,
            timeout=aiohttp.ClientTimeout(total=limit),
        ) as reply:
            raw = await reply.read()
            if reply.status >= 400 and not (missing_ok and reply.status == 404):
                _raise_for(reply.status, method, path, raw)
            index = reply.headers.get("X-Consul-Index", "0")
        return (msgspec.json.decode(raw) if raw else None), int(index) if index.isdigit() else 0

    async def _unless_closed(self, work: Awaitable[_T]) -> _T | None:
        """``work``'s result, or None as soon as the registry is closed (``work`` is cancelled)."""
        task = asyncio.ensure_future(work)
        closing = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({task, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, closing):
                pending.cancel()
            await asyncio.gather(task, closing, return_exceptions=True)
        return None if task.cancelled() else task.result()


def _instance(entry: dict[str, Any]) -> Instance | None:
    """An instance from a ``/health/service`` entry; None if its TTL lapsed."""
    service, checks = entry["Service"], entry.get("Checks") or []
    own = f"service:{service['ID']}"
    statuses = []
    for check in checks:
        if check.get("CheckID") == own and (check.get("Output") or "").startswith(_LAPSED):
            return None
        statuses.append(_STATUS.get(check.get("Status", ""), Health.CRITICAL))
    meta = service.get("Meta") or {}
    transports = meta.get(f"{_META}transports")
    return Instance(
        id=service["ID"],
        service=service["Service"],
        address=service["Address"],
        port=service["Port"],
        transports=("http",) if transports is None else tuple(filter(None, transports.split(","))),
        version=meta.get(f"{_META}version", ""),
        zone=meta.get(f"{_META}zone", ""),
        weight=int(meta.get(f"{_META}weight", "100")),
        metadata=msgspec.json.decode(meta.get(f"{_META}metadata", "{}"), type=dict[str, str]),
        health=max(statuses, key=list(Health).index, default=Health.PASSING),
    )


def _diff(before: dict[str, Instance], after: dict[str, Instance]) -> list[RegistryEvent]:
    events = [RegistryEvent("down", i) for key, i in before.items() if key not in after]
    events += [RegistryEvent("up", i) for key, i in after.items() if before.get(key) != i]
    return events


def _check_id(instance: Instance) -> str:
    return f"service:{instance.id}"


def _raise_for(status: int, method: str, path: str, raw: bytes) -> None:
    detail = f"Consul answered {method} {path} with {status}: {raw.decode(errors='replace')}"
    if status < 500:  # a bad token, a name or metadata Consul refuses, an unknown check
        raise ConfigurationError(detail)
    raise ConnectionError(detail)
