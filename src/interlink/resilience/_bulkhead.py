"""Bulkhead: cap the calls in flight so one slow dependency cannot take every task."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from interlink._clock import Clock
from interlink._errors import BulkheadFull
from interlink.resilience._config import Seconds, seconds
from interlink.resilience._events import EventKind
from interlink.resilience._link import Next, PolicyBase
from interlink.resilience._timeout import within

__all__ = ["Bulkhead"]


class Bulkhead(PolicyBase):
    """At most ``max_concurrent`` calls at once. Up to ``max_queue`` more callers wait, first
    come first served, each for at most ``max_queue_wait`` seconds (None: until the deadline);
    anyone else gets :class:`BulkheadFull` at once.
    """

    __slots__ = ("_active", "_waiters", "max_concurrent", "max_queue", "max_queue_wait")
    source = "bulkhead"

    def __init__(
        self,
        *,
        max_concurrent: int = 25,
        max_queue: int = 0,
        max_queue_wait: Seconds | None = None,
        clock: Clock | None = None,
        name: str = "",
    ) -> None:
        super().__init__(name=name, clock=clock)
        if (
            isinstance(max_concurrent, bool)
            or not isinstance(max_concurrent, int)
            or max_concurrent < 1
        ):
            raise ValueError(f"max_concurrent must be a whole number >= 1, not {max_concurrent!r}")
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 0:
            raise ValueError(f"max_queue must be a whole number >= 0, not {max_queue!r}")
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.max_queue_wait = (
            None if max_queue_wait is None else seconds(max_queue_wait, "max_queue_wait")
        )
        self._active = 0
        # A waiter that gives up removes itself when it resumes; until then release() skips it.
        self._waiters: deque[asyncio.Future[None]] = deque()

    def __repr__(self) -> str:
        return f"Bulkhead(max_concurrent={self.max_concurrent}, max_queue={self.max_queue})"

    @property
    def active(self) -> int:
        """Calls holding a slot now."""
        return self._active

    @property
    def queued(self) -> int:
        """Callers waiting for a slot now."""
        return len(self._waiters)

    def try_acquire(self) -> bool:
        """Take a slot if one is free right now (never queues)."""
        if self._active < self.max_concurrent and not self._waiters:
            self._active += 1
            return True
        self._emit(EventKind.BULKHEAD_FULL)
        return False

    async def acquire(self, deadline: float | None = None) -> None:
        """Take a slot, queueing when allowed; raises :class:`BulkheadFull` otherwise."""
        if self._active < self.max_concurrent and not self._waiters:
            self._active += 1
            return
        if len(self._waiters) >= self.max_queue:
            raise self._full("no free slot and the queue is full")
        await self._wait(deadline)

    def release(self) -> None:
        """Give a slot back, handing it straight to the first waiter if there is one."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._active -= 1

    async def _wait(self, deadline: float | None) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        limit = self.max_queue_wait
        if deadline is not None:
            left = deadline - self.clock.monotonic()
            limit = left if limit is None else min(limit, left)
        try:
            if limit is None:
                await waiter
            else:
                await within(self.clock, limit, waiter, self._timed_out)
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # a slot was handed over as we gave up: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def _timed_out(self) -> BulkheadFull:
        return self._full("no slot became free within the allowed wait")

    def _full(self, why: str) -> BulkheadFull:
        self._emit(EventKind.BULKHEAD_FULL)
        return BulkheadFull(f"bulkhead {self.name!r} is full: {why}")

    async def _link(
        self,
        nxt: Next,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float | None,
    ) -> Any:
        if self._active < self.max_concurrent and not self._waiters:
            self._active += 1
        else:
            # In a chain the deadline is already enforced around this link (by Timeout or the
            # Policy), which reports it as DeadlineExceeded; only max_queue_wait is ours.
            await self.acquire(None)
        try:
            return await nxt(fn, args, kwargs, deadline)
        finally:
            self.release()
