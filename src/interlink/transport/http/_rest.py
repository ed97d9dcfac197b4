"""REST routes, health, OpenAPI and the admin API on a Starlette router."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute
from starlette.routing import Router

from interlink._envelope import Envelope, new_id
from interlink._errors import CodecError, ValidationFailed
from interlink._handlers import Route
from interlink._wire import error_outcome
from interlink.transport.http._asgi import BodyTooLarge, read_body
from interlink.transport.http._asyncapi import asyncapi_route
from interlink.transport.http._openapi import openapi_document

if TYPE_CHECKING:
    from interlink._dispatch import Dispatcher
    from interlink.transport.http._admin import Admin
    from interlink.transport.http._server import HttpSettings

__all__ = ["build_router"]

Endpoint = Callable[[Request], Awaitable[Response]]


def json_response(status: int, body: Any) -> Response:
    data = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return Response(data, status_code=status, media_type="application/json")


def build_router(dispatcher: Dispatcher, settings: HttpSettings, admin: Admin | None) -> Router:
    routes = [
        StarletteRoute("/health/live", _live, methods=["GET"]),
        StarletteRoute("/health/ready", _ready(dispatcher), methods=["GET"]),
        StarletteRoute("/openapi.json", _openapi(dispatcher, settings), methods=["GET"]),
        asyncapi_route(settings.title, settings.version, dispatcher.services.values()),
    ]
    if admin is not None:
        from interlink.transport.http._admin import admin_routes

        routes.extend(admin_routes(admin, settings.max_body_size))
    for service in dispatcher.services.values():
        for route in service.routes.values():
            endpoint = _endpoint(dispatcher, route, settings.max_body_size)
            routes.append(StarletteRoute(route.path, endpoint, methods=[route.method]))
    return Router(routes, default=_not_found)


async def _not_found(scope: Any, receive: Any, send: Any) -> None:
    response = json_response(
        404, {"error": {"type": "NotFound", "message": f"no route for {scope.get('path')}"}}
    )
    await response(scope, receive, send)


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
    document = msgspec.json.encode(
        openapi_document(settings.title, settings.version, dispatcher.services.values())
    )

    async def openapi(request: Request) -> Response:
        return json_response(200, document)

    return openapi


def _endpoint(dispatcher: Dispatcher, route: Route, limit: int) -> Endpoint:
    params = route.params

    async def endpoint(request: Request) -> Response:
        try:
            envelope = Envelope.from_http(
                request.headers.items(), b"", default_type=f"{route.service}.{route.name}"
            )
        except CodecError as exc:
            return _bad_envelope(route, str(exc))
        if envelope.correlationid is None:
            envelope.correlationid = request.headers.get("x-correlation-id") or new_id()

        def fail(status: int, type_name: str, message: str, errors: Any = None) -> Response:
            outcome = error_outcome(
                status,
                type_name,
                message,
                service=route.service,
                method=route.name,
                correlation_id=envelope.correlationid or envelope.id,
                errors=errors,
            )
            return json_response(outcome.status, outcome.body)

        try:
            body = b""
            if params.body is not None:
                body = await read_body(request.receive, limit)
            kwargs = params.bind(request.path_params, request.query_params, _lists(request), body)
        except BodyTooLarge:
            return fail(413, "PayloadTooLarge", f"body over {limit} bytes")
        except ValidationFailed as exc:
            return fail(422, "ValidationError", str(exc), exc.errors)
        except CodecError as exc:
            return fail(400, "BadRequest", str(exc))
        outcome = await dispatcher.invoke_route(route, envelope, kwargs)
        if outcome.status == 204:
            return Response(status_code=204)
        return json_response(outcome.status, outcome.body)

    return endpoint


def _bad_envelope(route: Route, message: str) -> Response:
    outcome = error_outcome(
        400, "BadRequest", message, service=route.service, method=route.name, correlation_id=""
    )
    return json_response(outcome.status, outcome.body)


def _lists(request: Request) -> dict[str, list[str]]:
    return {key: request.query_params.getlist(key) for key in request.query_params}
