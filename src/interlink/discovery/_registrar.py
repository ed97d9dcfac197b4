"""Third-party registration: probe the registered instances and keep their health true.

Consul's model: an instance turns ``passing`` after ``success_before_passing`` good probes in
a row and ``critical`` after ``failures_before_critical`` bad ones; one that stays critical for
``deregister_critical_after`` seconds is removed. Probes are HTTP (``GET {url}{path}``, 200
passes) or TCP (the port accepts a connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.discovery._base import Health, Instance, Registry

if TYPE_CHECKING:
    import aiohttp

__all__ = ["ProbeSettings", "Registrar"]

log = logging.getLogger("interlink")


@dataclass(frozen=True, kw_only=True, slots=True)
class ProbeSettings:
    mode: Literal["http", "tcp"] = "http"
    path: str = "/health/ready"
    interval: float = 5.0
    timeout: float = 2.0
    success_before_passing: int = 1
    failures_before_critical: int = 3
    deregister_critical_after: float = 60.0
    ttl: float = 30.0
    """The TTL the registrar gives entries it rewrites (at least a few intervals)."""

    def __post_init__(self) -> None:
        if self.success_before_passing < 1 or self.failures_before_critical < 1:
            raise ValueError("success_before_passing and failures_before_critical must be >= 1")
        if self.interval <= 0 or self.timeout <= 0 or self.ttl <= self.interval:
            raise ValueError("interval and timeout must be positive and ttl longer than interval")


@dataclass(slots=True)
class _State:
    successes: int = 0
    failures: int = 0
    critical_since: float | None = None


class Registrar:
    """``async with Registrar(registry) as r:`` probes every ``interval``; ``probe_once()`` is
    one round (what tests drive)."""

    def __init__(
        self,
        registry: Registry,
        *,
        services: list[str] | None = None,
        settings: ProbeSettings | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._registry = registry
        self._services = services
        self.settings = settings or ProbeSettings()
        self._clock = clock
        self._states: dict[str, _State] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Registrar:
        self._task = asyncio.create_task(self._run(), name="registrar")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def probe_once(self) -> dict[str, Health]:
        """Probe every instance once; returns the health each one now has (by id)."""
        import aiohttp

        services = self._services if self._services is not None else await self._registry.services()
        results: dict[str, Health] = {}
        seen: set[str] = set()
        async with aiohttp.ClientSession() as session:
            for service in services:
                instances = await self._registry.resolve(service)
                passed = await asyncio.gather(*(self._probe(session, i) for i in instances))
                for instance, ok in zip(instances, passed, strict=True):
                    seen.add(instance.id)
                    health = await self._judge(instance, ok)
                    if health is not None:
                        results[instance.id] = health
        for gone in set(self._states) - seen:  # bounded: only instances that still exist
            del self._states[gone]
        return results

    async def _run(self) -> None:
        while True:
            try:
                await self.probe_once()
            except Exception as exc:  # the registry may be briefly unreachable
                log.warning("registrar round failed: %r", exc)
            await self._clock.sleep(self.settings.interval)

    async def _judge(self, instance: Instance, ok: bool) -> Health | None:
        settings = self.settings
        state = self._states.setdefault(instance.id, _State())
        if ok:
            state.successes, state.failures = state.successes + 1, 0
        else:
            state.successes, state.failures = 0, state.failures + 1
        health = instance.health
        if ok and state.successes >= settings.success_before_passing:
            health, state.critical_since = Health.PASSING, None
        elif not ok and state.failures >= settings.failures_before_critical:
            health = Health.CRITICAL
            now = self._clock.monotonic()
            if state.critical_since is None:
                state.critical_since = now
            elif now - state.critical_since >= settings.deregister_critical_after:
                log.info(
                    "registrar removes %s: critical for %.0fs",
                    instance.id,
                    now - state.critical_since,
                )
                await self._registry.deregister(instance)
                del self._states[instance.id]
                return None
        if health is not instance.health:
            await self._registry.register(instance.with_health(health), ttl=settings.ttl)
        return health

    async def _probe(self, session: aiohttp.ClientSession, instance: Instance) -> bool:
        try:
            async with asyncio.timeout(self.settings.timeout):
                if self.settings.mode == "tcp":
                    _, writer = await asyncio.open_connection(instance.address, instance.port)
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
                    return True
                async with session.get(f"{instance.url}{self.settings.path}") as response:
                    return response.status == 200
        except (OSError, TimeoutError):
            return False
