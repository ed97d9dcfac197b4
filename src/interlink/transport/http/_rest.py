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
from interlink._errors import CodecError, DeadlineExceeded, ValidationFailed
from interlink._handlers import Route
from interlink._invoke import classify_failure
from interlink._wire import error_outcome
from interlink.transport.http._asgi import BodyTooLarge, read_body
from interlink.transport.http._openapi import openapi_document

if TYPE_CHECKING:
    from interlink._runtime import Runtime

__all__ = ["build_router"]

Endpoint = Callable[[Request], Awaitable[Response]]


def json_response(status: int, body: Any) -> Response:
    data = body if isinstance(body, bytes) else msgspec.json.encode(body)
    return Response(data, status_code=status, media_type="application/json")


def build_router(runtime: Runtime) -> Router:
    routes = [
        StarletteRoute("/health/live", _live, methods=["GET"]),
        StarletteRoute("/health/ready", _ready(runtime), methods=["GET"]),
        StarletteRoute("/openapi.json", _openapi(runtime), methods=["GET"]),
    ]
    if runtime.app.admin_enabled:
        from interlink.transport.http._admin import admin_routes

        routes.extend(admin_routes(runtime))
    for service in runtime.running.values():
        for route in service.routes.values():
            routes.append(
                StarletteRoute(route.path, _endpoint(runtime, route), methods=[route.method])
            )
    return Router(routes, default=_not_found)


async def _not_found(scope: Any, receive: Any, send: Any) -> None:
    response = json_response(
        404, {"error": {"type": "NotFound", "message": f"no route for {scope.get('path')}"}}
    )
    await response(scope, receive, send)


async def _live(request: Request) -> Response:
    return json_response(200, {"status": "live"})


def _ready(runtime: Runtime) -> Endpoint:
    async def ready(request: Request) -> Response:
        if await runtime.is_ready():
            return json_response(200, {"status": "ready", "services": sorted(runtime.running)})
        status = "draining" if runtime.draining else ("unhealthy" if runtime.ready else "starting")
        return json_response(503, {"status": status, "services": sorted(runtime.running)})

    return ready


def _openapi(runtime: Runtime) -> Endpoint:
    document = msgspec.json.encode(openapi_document(runtime.app, runtime.running.values()))

    async def openapi(request: Request) -> Response:
        return json_response(200, document)

    return openapi


def _endpoint(runtime: Runtime, route: Route) -> Endpoint:
    params = route.params

    async def endpoint(request: Request) -> Response:
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

        envelope = Envelope.from_http(
            request.headers.items(), b"", default_type=f"{route.service}.{route.name}"
        )
        if envelope.correlationid is None:
            envelope.correlationid = request.headers.get("x-correlation-id") or new_id()
        try:
            body = b""
            if params.body is not None:
                body = await read_body(request.receive, runtime.app.max_body_size)
            kwargs = params.bind(request.path_params, request.query_params, _lists(request), body)
            deadline = runtime.effective_deadline(envelope, None)
        except BodyTooLarge:
            return fail(413, "PayloadTooLarge", f"body over {runtime.app.max_body_size} bytes")
        except ValidationFailed as exc:
            return fail(422, "ValidationError", str(exc), exc.errors)
        except CodecError as exc:
            return fail(400, "BadRequest", str(exc))
        except DeadlineExceeded as exc:
            return fail(504, "DeadlineExceeded", str(exc))
        ctx = runtime.handler_context(route.service, envelope, deadline)
        if params.context is not None:
            kwargs[params.context] = ctx
        try:
            async with runtime.time_limit(deadline):
                result = await route.fn(**kwargs)
            payload = route.response.encode(result)
            await ctx.flush()
        except Exception as exc:
            ctx.discard()
            where = f"{route.method} {route.path}"
            return fail(*classify_failure(exc, where, envelope.correlationid or ""))
        if route.status == 204:
            return Response(status_code=204)
        return json_response(route.status, payload)

    return endpoint


def _lists(request: Request) -> dict[str, list[str]]:
    return {key: request.query_params.getlist(key) for key in request.query_params}
