"""interlink's HTTP surface as one ASGI application: RPC, REST routes, health, OpenAPI, admin.

``POST /rpc/{service}/{method}`` is dispatched by a plain ASGI fast path; everything else goes
through a Starlette router. The same object is served by :class:`HttpServer` and mounted into
another ASGI application by ``App.asgi()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlink._envelope_http import from_asgi
from interlink._errors import CodecError
from interlink.transport.http._asgi import (
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    correlation_id,
    is_json,
    is_structured,
    read_body,
    route_path,
    send_error,
    send_json,
)
from interlink.transport.http._rest import build_router
from interlink.transport.http._streams import NDJSON, SSE, send_stream

if TYPE_CHECKING:
    from interlink._dispatch import Dispatcher
    from interlink.transport.http._admin import Admin
    from interlink.transport.http._observe import Exposition
    from interlink.transport.http._settings import HttpSettings

__all__ = ["HttpApp"]

_ALLOW_POST = ((b"allow", b"POST"),)


class HttpApp:
    """Serves one Dispatcher over ASGI; ``admin`` adds the admin API the CLI uses, ``telemetry``
    ``/metrics`` and ``/_interlink/spans``."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        settings: HttpSettings,
        admin: Admin | None = None,
        telemetry: Exposition | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._router = build_router(dispatcher, settings, admin, telemetry)
        self._limit = settings.max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = route_path(scope)
            if path.startswith("/rpc/"):
                await self._rpc(scope, receive, send, path)
                return
        await self._router(scope, receive, send)

    async def _rpc(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        service, _, method = path[5:].partition("/")
        dispatcher = self._dispatcher
        handler = dispatcher.rpc(service, method)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        found = _find(headers, ("content-type", "ce-correlationid", "x-correlation-id", "accept"))
        correlation = correlation_id(found[1], found[2])

        async def fail(status: int, type_name: str, message: str, extra: Any = ()) -> None:
            await send_error(
                send,
                status,
                type_name,
                message,
                correlation,
                service=service,
                method=method,
                extra=extra,
            )

        if handler is None:
            known = service in dispatcher.services
            text = (
                f"{service} has no method {method!r}" if known else f"no service {service!r} here"
            )
            await fail(404, "MethodNotFound", text)
            return
        if scope["method"] != "POST":
            await fail(405, "MethodNotAllowed", f"{handler.target} takes POST", _ALLOW_POST)
            return
        if dispatcher.draining:
            await fail(503, "ServiceUnavailable", f"{service} is shutting down")
            return
        if not is_json(found[0]):
            await fail(415, "UnsupportedMediaType", _NOT_JSON.format(found[0]))
            return
        try:
            body = await read_body(scope, receive, self._limit)
        except BodyTooLarge:
            await fail(413, "PayloadTooLarge", f"body over {self._limit} bytes")
            return
        except ClientDisconnected:
            return
        try:
            envelope = from_asgi(scope["headers"], body, default_type=handler.target)
        except CodecError as exc:
            await fail(400, "BadRequest", str(exc))
            return
        if envelope.correlationid != correlation:  # none sent, an unusable one, or structured
            correlation = envelope.correlationid = correlation_id(
                envelope.correlationid, correlation
            )
        if is_structured(found[0]):
            body = bytes(envelope.data)
        if handler.streaming:
            accept = found[3] or ""
            sse = SSE in accept
            if sse or NDJSON in accept:  # else invoke_rpc refuses it: a plain call
                items = dispatcher.invoke_stream(handler, envelope, body)
                await send_stream(send, items, correlation, sse=sse)
                return
        outcome = await dispatcher.invoke_rpc(handler, envelope, body)
        await send_json(send, outcome.status, outcome.body, correlation)


_NOT_JSON = (
    "the body must be JSON (content-type application/json, or application/cloudevents+json "
    "for a structured CloudEvent), not {!r}"
)


def _find(headers: list[tuple[str, str]], names: tuple[str, ...]) -> list[str | None]:
    """The first value of each of ``names`` (lower case) among ``headers``, or None."""
    found: list[str | None] = [None] * len(names)
    for key, value in headers:
        lowered = key.lower()
        if lowered in names:
            index = names.index(lowered)
            if found[index] is None:
                found[index] = value
    return found
