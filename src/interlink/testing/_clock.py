"""A virtual clock for deterministic tests (in the spirit of Trio's ``MockClock``)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import timedelta

__all__ = ["FakeClock"]

_EPOCH = 1_800_000_000.0  # a fixed wall-clock origin so time() readings are reproducible


class FakeClock:
    """Time moves only when the test says so.

    ``sleep(d)`` parks the caller until :meth:`advance` moves the clock to or past ``now + d``.
    Sleepers wake in deadline order; a sleep of zero or less returns after one event-loop turn,
    as ``asyncio.sleep(0)`` does.
    """

    def __init__(self, start: float = 0.0, *, wall: float = _EPOCH) -> None:
        self._now = float(start)
        self._wall_offset = wall - self._now
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now + self._wall_offset

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    def advance(self, seconds: float | timedelta) -> None:
        """Move time forward and wake every sleeper whose deadline has been reached."""
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        if step < 0:
            raise ValueError(f"a clock cannot go backwards (advance({step}))")
        self._now += step
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    @property
    def sleepers(self) -> int:
        """How many callers are parked in :meth:`sleep` (cancelled ones excluded)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> float | None:
        """When the earliest parked sleeper wakes, or None when nobody sleeps."""
        live = [when for when, _, f in self._sleepers if not f.done()]
        return min(live) if live else None

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r}, sleepers={self.sleepers})"
