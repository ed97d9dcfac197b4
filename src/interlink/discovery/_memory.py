"""``memory://``: an in-process registry with TTLs on an injectable clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.discovery._base import Instance, RegistryEvent

__all__ = ["MemoryRegistry"]

_SWEEP = 0.1  # seconds between expiry sweeps


class MemoryRegistry:
    """Instances by service, each with a deadline; watchers are told when one comes or goes.

    A watcher's buffer is bounded (``watch_buffer``); a watcher that falls that far behind gets
    one ``reset`` event instead of its backlog and resolves afresh.
    """

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK, watch_buffer: int = 1000) -> None:
        self.url = "memory://"
        self._clock = clock
        self._entries: dict[str, dict[str, tuple[Instance, float]]] = {}
        self._watchers: dict[str, set[asyncio.Queue[RegistryEvent]]] = {}
        self._buffer = watch_buffer
        self._sweeper: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper

    async def __aenter__(self) -> MemoryRegistry:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def register(self, instance: Instance, *, ttl: float) -> None:
        entries = self._entries.setdefault(instance.service, {})
        known = entries.get(instance.id)
        entries[instance.id] = (instance, self._clock.monotonic() + ttl)
        if known is None or known[0] != instance:
            self._notify(instance.service, RegistryEvent("up", instance))
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="registry ttl")

    async def heartbeat(self, instance: Instance, *, ttl: float) -> None:
        known = self._entries.get(instance.service, {}).get(instance.id)
        if known is None:
            await self.register(instance, ttl=ttl)
        else:  # only the deadline moves: a health a registrar set is kept
            self._entries[instance.service][instance.id] = (known[0], self._clock.monotonic() + ttl)

    async def deregister(self, instance: Instance) -> None:
        known = self._entries.get(instance.service, {}).pop(instance.id, None)
        if known is not None:
            self._notify(instance.service, RegistryEvent("down", known[0]))

    async def resolve(self, service: str) -> list[Instance]:
        self._sweep()
        return [instance for instance, _ in self._entries.get(service, {}).values()]

    async def services(self) -> list[str]:
        self._sweep()
        return sorted(name for name, found in self._entries.items() if found)

    def watch(self, service: str) -> AsyncIterator[RegistryEvent]:
        # Registered now, not on first iteration: nothing between watch() and anext() is lost.
        queue: asyncio.Queue[RegistryEvent] = asyncio.Queue(self._buffer)
        watchers = self._watchers.setdefault(service, set())
        watchers.add(queue)
        return _Watch(queue, watchers)

    async def _sweep_forever(self) -> None:
        while True:
            await self._clock.sleep(_SWEEP)
            self._sweep()

    def _sweep(self) -> None:
        now = self._clock.monotonic()
        for service, entries in self._entries.items():
            for instance_id, (instance, expires) in list(entries.items()):
                if expires <= now:
                    del entries[instance_id]
                    self._notify(service, RegistryEvent("down", instance))

    def _notify(self, service: str, event: RegistryEvent) -> None:
        for queue in self._watchers.get(service, ()):
            if queue.full():
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(RegistryEvent("reset", None))
            else:
                queue.put_nowait(event)


class _Watch:
    def __init__(
        self, queue: asyncio.Queue[RegistryEvent], watchers: set[asyncio.Queue[RegistryEvent]]
    ) -> None:
        self._queue = queue
        self._watchers = watchers

    def __aiter__(self) -> _Watch:
        return self

    async def __anext__(self) -> RegistryEvent:
        if self._queue not in self._watchers:
            raise StopAsyncIteration
        return await self._queue.get()

    async def aclose(self) -> None:
        self._watchers.discard(self._queue)
