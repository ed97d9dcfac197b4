"""The admin API the CLI talks to: ``/_interlink/services`` and ``/_interlink/publish/{topic}``.

Enabled by default only when the App listens on loopback (``App(admin=…)`` decides).
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from interlink.transport.http._asgi import (
    CORRELATION_HEADER,
    BodyTooLarge,
    ClientDisconnected,
    error_body,
    read_body,
)
from interlink.transport.http._routing import JsonRoute, request_correlation

__all__ = ["Admin", "admin_routes"]


class Admin(Protocol):
    """What the admin API asks of the running App."""

    async def describe(self) -> dict[str, Any]:
        """Services, instances, backends, and what the registry holds."""
        ...

    async def publish(self, topic: str, message: Any, key: str | None) -> None: ...


def _json(status: int, body: Any) -> Response:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


def _error(request: Request, status: int, type_name: str, message: str) -> Response:
    correlation = request_correlation(request.scope)
    return Response(
        error_body(status, type_name, message, correlation),
        status_code=status,
        media_type="application/json",
        headers={CORRELATION_HEADER: correlation},
    )


def admin_routes(admin: Admin, limit: int) -> list[JsonRoute]:
    async def services(request: Request) -> Response:
        return _json(200, await admin.describe())

    async def publish(request: Request) -> Response:
        topic = request.path_params["topic"]
        try:
            raw = await read_body(request.scope, request.receive, limit)
            message = msgspec.json.decode(raw)
        except BodyTooLarge:
            return _error(request, 413, "PayloadTooLarge", f"body over {limit} bytes")
        except ClientDisconnected:
            return Response(status_code=400)  # the connection is gone: nobody reads this
        except msgspec.DecodeError as exc:
            return _error(request, 422, "ValidationError", f"invalid JSON: {exc}")
        await admin.publish(topic, message, request.query_params.get("key"))
        return _json(202, {"published": topic})

    return [
        JsonRoute("/_interlink/services", services, methods=["GET"]),
        JsonRoute("/_interlink/publish/{topic}", publish, methods=["POST"]),
    ]
