"""The breaker's sliding windows: configuration, the recorders behind it, and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from interlink._clock import Clock
from interlink.resilience._config import whole_seconds
from interlink.resilience._rolling import RollingSums

__all__ = ["FAILED", "SLOW", "BreakerMetrics", "CountWindow", "Recorder", "TimeWindow"]

FAILED = 1
SLOW = 2
"""Outcome bits: a recorded call is a success (0), failed, slow, or both (3)."""


@dataclass(frozen=True, slots=True)
class CountWindow:
    """Judge the breaker on the last ``size`` calls (a ring of outcomes)."""

    size: int = 100

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(
                f"CountWindow size must be a whole number of calls >= 1, not {self.size!r}"
            )

    def recorder(self, minimum_calls: int, clock: Clock) -> Recorder:
        # Resilience4j clamps minimum_calls to the window: a full window is always enough.
        return _CountRing(self.size, min(minimum_calls, self.size))


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Judge the breaker on the calls of the last ``seconds`` (one-second buckets)."""

    seconds: int | float | timedelta = 60

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", whole_seconds(self.seconds, "TimeWindow seconds"))

    def recorder(self, minimum_calls: int, clock: Clock) -> Recorder:
        return _TimeRing(whole_seconds(self.seconds, "seconds"), minimum_calls, clock)


@dataclass(frozen=True, kw_only=True, slots=True)
class BreakerMetrics:
    """A snapshot. Rates are fractions (0.25 is 25 %), -1.0 while fewer than minimum calls."""

    failure_rate: float
    slow_call_rate: float
    calls: int
    failed_calls: int
    slow_calls: int
    not_permitted_calls: int


class Recorder:
    """Outcome totals for one breaker state. ``minimum`` calls are needed before rates count."""

    __slots__ = ("calls", "failed", "minimum", "not_permitted", "slow")

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum
        self.calls = 0
        self.failed = 0
        self.slow = 0
        self.not_permitted = 0

    def add(self, outcome: int) -> None:
        raise NotImplementedError

    def refresh(self) -> None:
        """Bring the totals up to date with the clock (time windows only)."""

    def snapshot(self) -> BreakerMetrics:
        self.refresh()
        calls = self.calls
        ready = calls >= self.minimum and calls > 0
        return BreakerMetrics(
            failure_rate=self.failed / calls if ready else -1.0,
            slow_call_rate=self.slow / calls if ready else -1.0,
            calls=calls,
            failed_calls=self.failed,
            slow_calls=self.slow,
            not_permitted_calls=self.not_permitted,
        )


class _CountRing(Recorder):
    __slots__ = ("_index", "_ring", "_size")

    def __init__(self, size: int, minimum: int) -> None:
        super().__init__(minimum)
        self._size = size
        self._ring = [0] * size
        self._index = 0

    def add(self, outcome: int) -> None:
        i = self._index
        if self.calls == self._size:
            evicted = self._ring[i]
            if evicted:
                self.failed -= evicted & FAILED
                self.slow -= (evicted & SLOW) >> 1
        else:
            self.calls += 1
        self._ring[i] = outcome
        if outcome:
            self.failed += outcome & FAILED
            self.slow += (outcome & SLOW) >> 1
        self._index = i + 1 if i + 1 < self._size else 0


class _TimeRing(Recorder):
    __slots__ = ("_sums",)

    def __init__(self, seconds: int, minimum: int, clock: Clock) -> None:
        super().__init__(minimum)
        self._sums = RollingSums(seconds, 3, clock)

    def add(self, outcome: int) -> None:
        self._sums.add_each((1, outcome & FAILED, (outcome & SLOW) >> 1))
        self._sync()

    def refresh(self) -> None:
        self._sums.refresh()
        self._sync()

    def _sync(self) -> None:
        self.calls, self.failed, self.slow = self._sums.totals
