"""The running App as the admin API (and so the CLI) sees it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from interlink.runtime._runtime import Runtime

__all__ = ["AdminView"]


class AdminView:
    """Implements :class:`interlink.transport.http._admin.Admin` over a runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def describe(self) -> dict[str, Any]:
        runtime = self._runtime
        registry = runtime.registry
        body = describe_services(runtime)
        body["registered"] = {
            name: [
                {"id": i.id, "url": i.url, "version": i.version}
                for i in await registry.resolve(name)
            ]
            for name in await registry.services()
        }
        return body

    async def publish(self, topic: str, message: Any, key: str | None) -> None:
        await self._runtime.root_context("cli").publish(topic, message, key=key)


def describe_services(runtime: Runtime) -> dict[str, Any]:
    services = [
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
        for svc in runtime.running.values()
    ]
    return {
        "services": services,
        "instances": [
            {"id": i.id, "service": i.service, "url": i.url, "version": i.version}
            for i in runtime.instances
        ],
        "broker": runtime.broker.url,
        "registry": runtime.registry.url,
    }
