"""The admin API the CLI talks to: ``/_interlink/services`` and ``/_interlink/publish/{topic}``.

Enabled by default only when the App listens on loopback (``App(admin=…)`` decides).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from interlink.transport.http._asgi import BodyTooLarge, read_body

if TYPE_CHECKING:
    from interlink._runtime import Runtime

__all__ = ["admin_routes", "describe"]


def _json(status: int, body: Any) -> Response:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


def describe(runtime: Runtime) -> dict[str, Any]:
    services = []
    for svc in runtime.running.values():
        services.append(
            {
                "name": svc.name,
                "version": svc.version,
                "rpcs": [
                    {"name": r.name, "idempotent": r.idempotent, "timeout": r.timeout}
                    for r in svc.rpcs.values()
                ],
                "routes": [f"{r.method} {r.path}" for r in svc.routes.values()],
                "subscriptions": [
                    {"topic": s.topic, "group": s.group, "dead_letter_topic": s.dead_letter_topic}
                    for s in svc.subscribers
                ],
            }
        )
    return {
        "services": services,
        "instances": [
            {"id": i.id, "service": i.service, "url": i.url, "version": i.version}
            for i in runtime.instances
        ],
        "broker": runtime.broker.url,
        "registry": runtime.registry.url,
    }


def admin_routes(runtime: Runtime) -> list[Route]:
    async def services(request: Request) -> Response:
        body = describe(runtime)
        body["registered"] = {
            name: [
                {"id": i.id, "url": i.url, "version": i.version}
                for i in await runtime.registry.resolve(name)
            ]
            for name in await runtime.registry.services()
        }
        return _json(200, body)

    async def publish(request: Request) -> Response:
        topic = request.path_params["topic"]
        try:
            raw = await read_body(request.receive, runtime.app.max_body_size)
            message = msgspec.json.decode(raw)
        except BodyTooLarge:
            return _json(413, {"error": {"type": "PayloadTooLarge", "message": "body too large"}})
        except msgspec.DecodeError as exc:
            return _json(
                422, {"error": {"type": "ValidationError", "message": f"invalid JSON: {exc}"}}
            )
        ctx = runtime.root_context("cli")
        await ctx.publish(topic, message, key=request.query_params.get("key"))
        return _json(202, {"published": topic})

    return [
        Route("/_interlink/services", services, methods=["GET"]),
        Route("/_interlink/publish/{topic}", publish, methods=["POST"]),
    ]
