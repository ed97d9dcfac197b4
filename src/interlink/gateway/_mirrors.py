"""Mirroring: fire-and-forget copies of requests, bounded, owned by the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from starlette.types import Scope

from interlink.gateway._body import RequestBody
from interlink.gateway._traffic import Mirror
from interlink.gateway._upstream import Upstream

__all__ = ["Mirrors"]

log = logging.getLogger("interlink")

_COPY_READ_LIMIT = 1024 * 1024
_MARK = (b"x-interlink-mirror", b"1")


class Mirrors:
    def __init__(self, upstream: Callable[[], Upstream]) -> None:
        self._upstream = upstream
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: dict[int, int] = {}

    def copy(
        self, mirror: Mirror, scope: Scope, method: str, target: str, body: RequestBody
    ) -> None:
        key = id(mirror)
        if self._in_flight.get(key, 0) >= mirror.max_in_flight:
            return
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        copied = dict(scope, headers=[*scope["headers"], _MARK])
        task = asyncio.create_task(self._send(mirror, copied, method, target, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(
        self, mirror: Mirror, scope: Scope, method: str, target: str, body: RequestBody
    ) -> None:
        try:
            answer = await self._upstream().send(mirror.service, scope, method, target, body)
            try:
                await answer.read(_COPY_READ_LIMIT)
            finally:
                answer.close()
        except Exception as exc:
            log.debug("mirroring to %s failed: %r", mirror.service, exc)
        finally:
            self._in_flight[id(mirror)] -= 1

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
