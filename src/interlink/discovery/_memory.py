"""``memory://``: an in-process registry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from interlink.discovery._base import Instance, RegistryEvent

__all__ = ["MemoryRegistry"]


class MemoryRegistry:
    """Instances by service, with watchers.

    A watcher's buffer is bounded (``watch_buffer``); when a slow watcher falls that far
    behind, its backlog is replaced by one ``reset`` event and it resolves afresh.
    """

    def __init__(self, *, watch_buffer: int = 1000) -> None:
        self.url = "memory://"
        self._instances: dict[str, dict[str, Instance]] = {}
        self._watchers: dict[str, set[asyncio.Queue[RegistryEvent]]] = {}
        self._buffer = watch_buffer

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> MemoryRegistry:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def register(self, instance: Instance) -> None:
        self._instances.setdefault(instance.service, {})[instance.id] = instance
        self._notify(instance.service, RegistryEvent("up", instance))

    async def deregister(self, instance: Instance) -> None:
        known = self._instances.get(instance.service, {})
        if known.pop(instance.id, None) is not None:
            self._notify(instance.service, RegistryEvent("down", instance))

    async def resolve(self, service: str) -> list[Instance]:
        return list(self._instances.get(service, {}).values())

    async def services(self) -> list[str]:
        return sorted(name for name, found in self._instances.items() if found)

    async def watch(self, service: str) -> AsyncIterator[RegistryEvent]:
        queue: asyncio.Queue[RegistryEvent] = asyncio.Queue(self._buffer)
        self._watchers.setdefault(service, set()).add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._watchers[service].discard(queue)

    def _notify(self, service: str, event: RegistryEvent) -> None:
        for queue in self._watchers.get(service, ()):
            if queue.full():
                while not queue.empty():
                    queue.get_nowait()
                event = RegistryEvent("reset", None)
            queue.put_nowait(event)
