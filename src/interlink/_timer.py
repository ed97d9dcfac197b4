"""Deadlines on the event loop, cheap enough to arm on every call.

``asyncio.timeout`` arms and cancels a loop timer per use; on uvloop with many calls in flight
that costs more than the rest of a call's bookkeeping. Yet a call's deadline is long (30 s by
default) and nobody needs it to the microsecond. :func:`timeout_after` keeps short delays exact
(``asyncio.timeout``) and puts a delay of a second or more into a per-loop wheel: one loop
timer for all of them, slots 2^k ms wide with k chosen so that a slot is at most 1% of the
delay. A coarse deadline fires in the slot's tick: never early, at most 1% late.

Expiry works as ``asyncio.timeout``'s does: the task is cancelled, and leaving the block turns
that cancellation (and only that one) into ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import weakref
from types import TracebackType

__all__ = ["COARSE_FROM", "CoarseTimeout", "timeout_after"]

COARSE_FROM = 1.0
"""Delays of at least this many seconds go to the wheel; shorter ones get a timer each."""
_FINEST = 0.001


def timeout_after(delay: float) -> asyncio.Timeout | CoarseTimeout:
    """An ``async with`` scope that raises ``TimeoutError`` ``delay`` seconds from now."""
    if delay < COARSE_FROM:
        return asyncio.timeout(delay)
    return CoarseTimeout(delay)


class CoarseTimeout:
    """One deadline in the wheel of the running loop (see the module docstring)."""

    __slots__ = ("_cancelling", "_delay", "_expired", "_slot", "_task", "_wheel")

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._expired = False
        self._slot = 0.0

    def expired(self) -> bool:
        """Whether the deadline passed (and cancelled the task)."""
        return self._expired

    async def __aenter__(self) -> CoarseTimeout:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a timeout must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        loop = task.get_loop()
        wheel = _last.wheel
        if wheel is None or _last.loop is not loop:
            wheel = _wheel(loop)
        self._wheel = wheel
        self._slot = wheel.add(self, self._delay)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._wheel.discard(self, self._slot)
        if (
            self._expired
            and self._task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()


class _Wheel:
    """The coarse deadlines of one loop, in slots keyed by the loop time they fire at."""

    __slots__ = ("__weakref__", "_heap", "_loop", "_slots", "_timer", "_timer_at")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._slots: dict[float, set[CoarseTimeout]] = {}
        self._heap: list[float] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def add(self, scope: CoarseTimeout, delay: float) -> float:
        # 2^k ms with 2^k <= delay in tenths of a second: at most 1% of the delay.
        width = _FINEST * (1 << (int(delay * 10).bit_length() - 1))
        slot = math.ceil((self._loop.time() + delay) / width) * width
        members = self._slots.get(slot)
        if members is None:
            # Invariant: every key of _slots is in _heap once; a slot emptied by discard stays
            # until its tick, so a busy slot is pushed once, not once per call.
            members = self._slots[slot] = set()
            heapq.heappush(self._heap, slot)
            if slot < self._timer_at:
                self._arm(slot)
        members.add(scope)
        return slot

    def discard(self, scope: CoarseTimeout, slot: float) -> None:
        members = self._slots.get(slot)
        if members is not None:
            members.discard(scope)

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._tick)

    def _tick(self) -> None:
        self._timer, self._timer_at = None, math.inf
        now = self._loop.time()
        heap = self._heap
        while heap and heap[0] <= now:
            for scope in self._slots.pop(heapq.heappop(heap)):
                scope._expire()
        if heap:
            self._arm(heap[0])


_wheels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Wheel] = weakref.WeakKeyDictionary()


class _Last:
    """The wheel used last, found without a weak-dictionary lookup (one loop is the rule)."""

    __slots__ = ("loop", "wheel")

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.wheel: _Wheel | None = None


_last = _Last()


def _wheel(loop: asyncio.AbstractEventLoop) -> _Wheel:
    wheel = _wheels.get(loop)
    if wheel is None:
        wheel = _wheels[loop] = _Wheel(loop)
    _last.loop, _last.wheel = loop, wheel
    return wheel
