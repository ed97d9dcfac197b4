"""The admin API the CLI talks to: ``/_interlink/services`` and ``/_interlink/publish/{topic}``.

Enabled by default only when the App listens on loopback (``App(admin=…)`` decides).
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from interlink.transport.http._asgi import BodyTooLarge, read_body

__all__ = ["Admin", "admin_routes"]


class Admin(Protocol):
    """What the admin API asks of the running App."""

    async def describe(self) -> dict[str, Any]:
        """Services, instances, backends, and what the registry holds."""
        ...

    async def publish(self, topic: str, message: Any, key: str | None) -> None: ...


def _json(status: int, body: Any) -> Response:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


def admin_routes(admin: Admin, limit: int) -> list[Route]:
    async def services(request: Request) -> Response:
        return _json(200, await admin.describe())

    async def publish(request: Request) -> Response:
        topic = request.path_params["topic"]
        try:
            raw = await read_body(request.receive, limit)
            message = msgspec.json.decode(raw)
        except BodyTooLarge:
            return _json(413, {"error": {"type": "PayloadTooLarge", "message": "body too large"}})
        except msgspec.DecodeError as exc:
            return _json(
                422, {"error": {"type": "ValidationError", "message": f"invalid JSON: {exc}"}}
            )
        await admin.publish(topic, message, request.query_params.get("key"))
        return _json(202, {"published": topic})

    return [
        Route("/_interlink/services", services, methods=["GET"]),
        Route("/_interlink/publish/{topic}", publish, methods=["POST"]),
    ]
