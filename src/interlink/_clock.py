"""Time as a seam: every component that waits or measures takes a ``clock``.

Production code uses :data:`SYSTEM_CLOCK`; tests inject :class:`interlink.testing.FakeClock`
so breakers, retries, TTLs and sagas run on virtual time with no real sleeps.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Two readings and one wait.

    ``monotonic()`` measures durations; ``time()`` is wall time in epoch seconds and is what
    crosses process boundaries (absolute deadlines). ``sleep()`` must return once the clock has
    moved at least ``seconds`` forward.
    """

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK: Clock = SystemClock()
