"""Client-side discovery: a watch-fed cache of each target's instances, and the pick.

No registry round trip per call: the first call to a service resolves it and starts a watch;
after that, ``pick`` reads memory. A full resolve every ``resync`` seconds (and after a watch
error or a ``reset``) bounds how stale the cache can get if a change was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection

from interlink._clock import Clock
from interlink._errors import ServiceUnavailable
from interlink.discovery._balancer import LoadBalancer
from interlink.discovery._base import Health, Instance, Registry

__all__ = ["Discovery", "ServiceView"]

log = logging.getLogger("interlink")

MAX_SERVICES = 1000


class ServiceView:
    """What this process knows about one target service."""

    __slots__ = ("balancer", "instances", "service", "usable", "watcher")

    def __init__(self, service: str, balancer: LoadBalancer) -> None:
        self.service = service
        self.balancer = balancer
        self.instances: dict[str, Instance] = {}
        self.usable: list[Instance] = []
        self.watcher: asyncio.Task[None] | None = None

    def replace(self, instances: list[Instance]) -> None:
        self.instances = {i.id: i for i in instances}
        self._refresh()

    def apply(self, kind: str, instance: Instance) -> None:
        if kind == "up":
            self.instances[instance.id] = instance
        else:
            self.instances.pop(instance.id, None)
        self._refresh()

    def _refresh(self) -> None:
        # Invariant: ``usable`` is rebuilt on every change, so a pick never filters.
        self.usable = sorted(
            (i for i in self.instances.values() if i.health is not Health.CRITICAL),
            key=lambda i: i.id,
        )


class Discovery:
    def __init__(
        self,
        registry: Registry,
        *,
        balancer: Callable[[], LoadBalancer],
        clock: Clock,
        resync: float = 30.0,
    ) -> None:
        self._registry = registry
        self._new_balancer = balancer
        self._clock = clock
        self._resync = resync
        self._views: dict[str, ServiceView] = {}
        self._opening: dict[str, asyncio.Future[ServiceView]] = {}

    async def view(self, service: str) -> ServiceView:
        view = self._views.get(service)
        if view is not None:
            return view
        pending = self._opening.get(service)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ServiceView] = asyncio.get_running_loop().create_future()
        self._opening[service] = future
        try:
            view = await self._open(service)
            future.set_result(view)
            return view
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: later waiters get it from view() again
            raise
        finally:
            del self._opening[service]

    async def pick(
        self, service: str, key: str | None = None, exclude: Collection[str] = ()
    ) -> tuple[Instance, LoadBalancer]:
        return self._pick(await self.view(service), key, exclude)

    def pick_now(
        self, service: str, key: str | None = None, exclude: Collection[str] = ()
    ) -> tuple[Instance, LoadBalancer] | None:
        """:meth:`pick` without awaiting, once the service is being watched; else None."""
        view = self._views.get(service)
        return None if view is None else self._pick(view, key, exclude)

    def _pick(
        self, view: ServiceView, key: str | None, exclude: Collection[str]
    ) -> tuple[Instance, LoadBalancer]:
        service = view.service
        candidates = view.usable
        if exclude:
            candidates = [i for i in candidates if i.id not in exclude]
        if not candidates:
            raise ServiceUnavailable(
                f"no {'other ' if exclude else ''}healthy instance of {service!r} in {self._registry.url}"
            )
        return view.balancer.pick(candidates, key), view.balancer

    async def close(self) -> None:
        tasks = [v.watcher for v in self._views.values() if v.watcher is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._views.clear()

    async def _open(self, service: str) -> ServiceView:
        view = ServiceView(service, self._new_balancer())
        view.replace(await self._registry.resolve(service))
        if len(self._views) < MAX_SERVICES:
            view.watcher = asyncio.create_task(self._follow(view), name=f"watch {service}")
            self._views[service] = view
        return view

    async def _follow(self, view: ServiceView) -> None:
        """Apply watch events; resolve afresh every ``resync`` seconds and after trouble."""
        while True:
            try:
                async with asyncio.timeout(self._resync):
                    async for event in self._registry.watch(view.service):
                        if event.instance is None:
                            break  # reset: fall through to a full resolve
                        view.apply(event.kind, event.instance)
                    else:
                        await self._clock.sleep(self._resync)  # a static registry: no events
            except TimeoutError:
                pass
            except Exception as exc:
                log.warning("watching %s failed (%r); resolving again", view.service, exc)
                await self._clock.sleep(1.0)
            with contextlib.suppress(Exception):
                view.replace(await self._registry.resolve(view.service))
