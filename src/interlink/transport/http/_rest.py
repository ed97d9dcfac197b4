"""REST routes, health, OpenAPI and the admin API on a Starlette router.

Every error is the JSON error body with a correlation id (also in ``x-correlation-id``): an
unknown path is 404, a known path asked with another method is 405 with ``Allow``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Router

from interlink._envelope import Envelope
from interlink._errors import CodecError, ValidationFailed
from interlink.transport.http._asgi import (
    CORRELATION_HEADER,
    PEER,
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    correlation_id,
    is_json,
    read_body,
    send_error,
    send_json,
)
from interlink.transport.http._asyncapi import asyncapi_route
from interlink.transport.http._openapi import openapi_document
from interlink.transport.http._routing import JsonRoute, not_found

if TYPE_CHECKING:
    from interlink._dispatch import Dispatcher
    from interlink._handlers import Route
    from interlink.transport.http._admin import Admin
    from interlink.transport.http._observe import Exposition
    from interlink.transport.http._settings import HttpSettings

__all__ = ["build_router", "json_response"]

Endpoint = Callable[[Request], Awaitable[Response]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


def json_response(status: int, body: Any) -> Response:
    data = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return Response(data, status_code=status, media_type="application/json")


def build_router(
    dispatcher: Dispatcher,
    settings: HttpSettings,
    admin: Admin | None,
    telemetry: Exposition | None = None,
) -> Router:
    routes = [
        JsonRoute("/health/live", _live, methods=["GET"]),
        JsonRoute("/health/ready", _ready(dispatcher), methods=["GET"]),
        JsonRoute("/openapi.json", _openapi(dispatcher, settings), methods=["GET"]),
        asyncapi_route(settings.title, settings.version, dispatcher.services.values()),
    ]
    if admin is not None:
        from interlink.transport.http._admin import admin_routes

        routes.extend(admin_routes(admin, settings.max_body_size))
    if telemetry is not None:
        from interlink.transport.http._observe import observe_routes

        routes.extend(observe_routes(telemetry))
    by_path: dict[str, dict[str, Asgi]] = {}
    for service in dispatcher.services.values():
        for route in service.routes.values():
            endpoint = _RouteEndpoint(dispatcher, route, settings.max_body_size)
            by_path.setdefault(route.path, {})[route.method] = endpoint
    routes.extend(
        JsonRoute(path, _ByMethod(endpoints), methods=list(endpoints))
        for path, endpoints in by_path.items()
    )
    # No redirect to the path with or without a trailing slash: a status the document lacks.
    return Router(routes, default=not_found, redirect_slashes=False)


class _ByMethod:
    """The routes declared on one path, chosen by method (HEAD is answered as GET)."""

    def __init__(self, endpoints: dict[str, Asgi]) -> None:
        self._endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        await self._endpoints["GET" if method == "HEAD" else method](scope, receive, send)


async def _live(request: Request) -> Response:
    return json_response(200, {"status": "live"})


def _ready(dispatcher: Dispatcher) -> Endpoint:
    async def ready(request: Request) -> Response:
        services = sorted(dispatcher.services)
        if await dispatcher.is_ready():
            return json_response(200, {"status": "ready", "services": services})
        status = (
            "draining"
            if dispatcher.draining
            else ("unhealthy" if dispatcher.started else "starting")
        )
        return json_response(503, {"status": status, "services": services})

    return ready


def _openapi(dispatcher: Dispatcher, settings: HttpSettings) -> Endpoint:
    document = openapi_document(settings.title, settings.version, dispatcher.services.values())
    encoded = {"": msgspec.json.encode(document)}

    async def openapi(request: Request) -> Response:
        # Mounted below a prefix, the document names the prefix as its server.
        root: str = request.scope.get("root_path", "")
        if root not in encoded and len(encoded) < 16:
            encoded[root] = msgspec.json.encode({**document, "servers": [{"url": root}]})
        return json_response(200, encoded.get(root, encoded[""]))

    return openapi


class _RouteEndpoint:
    """One REST route: bind path, query and body, run it, answer JSON (or 204)."""

    def __init__(self, dispatcher: Dispatcher, route: Route, limit: int) -> None:
        self._dispatcher = dispatcher
        self._route = route
        self._limit = limit
        self._type = f"{route.service}.{route.name}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route, params, limit = self._route, self._route.params, self._limit
        headers = Headers(scope=scope)
        correlation = correlation_id(
            headers.get("ce-correlationid"), headers.get(CORRELATION_HEADER)
        )

        async def fail(status: int, type_name: str, message: str, errors: Any = None) -> None:
            await send_error(
                send,
                status,
                type_name,
                message,
                correlation,
                service=route.service,
                method=route.name,
                errors=errors,
            )

        if self._dispatcher.draining:
            await fail(503, "ServiceUnavailable", f"{route.service} is shutting down")
            return
        content_type = headers.get("content-type")
        if params.body is not None and not is_json(content_type):
            message = f"the body must be JSON (content-type application/json), not {content_type!r}"
            await fail(415, "UnsupportedMediaType", message)
            return
        try:
            body = b"" if params.body is None else await read_body(scope, receive, limit)
            query = QueryParams(scope["query_string"])
            lists = {key: query.getlist(key) for key in query}
            kwargs = params.bind(scope.get("path_params", {}), query, lists, body)
            envelope = Envelope.from_http(headers.items(), b"", default_type=self._type)
        except BodyTooLarge:
            await fail(413, "PayloadTooLarge", f"body over {limit} bytes")
            return
        except ClientDisconnected:
            return
        except ValidationFailed as exc:
            await fail(422, "ValidationError", str(exc), exc.errors)
            return
        except CodecError as exc:
            await fail(400, "BadRequest", str(exc))
            return
        envelope.correlationid = correlation
        peer = scope.get(PEER)
        outcome = await self._dispatcher.invoke_route(route, envelope, kwargs, peer=peer)
        if outcome.status == 204:
            await _no_content(send, correlation)
            return
        await send_json(send, outcome.status, outcome.body, correlation)


async def _no_content(send: Send, correlation: str) -> None:
    headers = [(CORRELATION_HEADER.encode(), correlation.encode())]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
