"""Self-registration: register when ready, heartbeat every TTL/3, deregister first on stop.

Readiness gates registration: an instance is resolvable only once its readiness checks pass.
While running, a failing check re-registers it as ``critical`` (callers skip it) until it
passes again. A crashed process stops heartbeating and its entry lapses after the TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from interlink._clock import Clock
from interlink.discovery._base import Health, Instance, Registry

__all__ = ["SelfRegistration"]

log = logging.getLogger("interlink")

_READY_POLL = 0.2  # seconds between readiness checks before the first registration


class SelfRegistration:
    def __init__(
        self,
        registry: Registry,
        instances: Sequence[Instance],
        *,
        ttl: float,
        ready: Callable[[], Awaitable[bool]],
        clock: Clock,
    ) -> None:
        self._registry = registry
        self.instances = list(instances)
        self._ttl = ttl
        self._ready = ready
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self.registered = asyncio.Event()

    async def start(self) -> None:
        """Register now if ready (so ``async with app:`` returns registered), else later."""
        if await self._ready():
            await self._beat(Health.PASSING, first=True)
            self.registered.set()
        self._task = asyncio.create_task(self._run(), name="self-registration")

    async def stop(self) -> None:
        """Deregister at once: the instance stops being resolvable before it drains."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.registered.is_set():
            for instance in self.instances:
                try:
                    await self._registry.deregister(instance)
                except Exception:  # a registry that is down must not block shutdown
                    log.warning("could not deregister %s; it will lapse after its TTL", instance.id)

    async def _run(self) -> None:
        if not self.registered.is_set():
            while not await self._ready():
                await self._clock.sleep(_READY_POLL)
            await self._beat(Health.PASSING, first=True)
            self.registered.set()
        while True:
            await self._clock.sleep(self._ttl / 3)
            health = Health.PASSING if await self._ready() else Health.CRITICAL
            await self._beat(health, first=False)

    async def _beat(self, health: Health, *, first: bool) -> None:
        for index, current in enumerate(self.instances):
            instance = current
            try:
                if first or current.health is not health:
                    instance = current.with_health(health)
                    await self._registry.register(instance, ttl=self._ttl)
                    self.instances[index] = instance
                else:
                    await self._registry.heartbeat(current, ttl=self._ttl)
            except Exception as exc:  # keep beating: the registry may come back
                log.warning(
                    "registry %s: heartbeat for %s failed: %r", self._registry.url, instance.id, exc
                )
