"""Peak-EWMA: power of two choices on latency by load, as Finagle and Linkerd balance.

Each instance keeps a latency estimate that jumps straight up to any slower observation (the
peak) and otherwise decays toward recent observations with time constant ``decay``; reading
it also decays it toward zero, so an instance that was slow once is tried again later rather
than starved forever. The load compared is ``estimate * (outstanding + 1)``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import timedelta

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.discovery._base import Instance
from interlink.discovery._p2c import InstanceTable, distinct_pair

__all__ = ["PeakEwma"]

_COLD = -1.0  # an estimate nobody has measured yet


class _Estimate:
    __slots__ = ("cost", "guessed", "pending", "stamp")

    def __init__(self) -> None:
        self.cost = _COLD
        self.guessed = True  # the first measurement replaces a guess outright
        self.stamp = 0.0
        self.pending = 0


class PeakEwma:
    """Of two random instances, the one with the lower ``peak-EWMA latency * (outstanding + 1)``.

    A newly seen instance starts at the mean estimate of the instances already measured (or at
    ``default_rtt`` when none is), so it neither floods with traffic nor starves; its first
    measurement then replaces that guess.
    """

    __slots__ = ("_clock", "_default", "_estimates", "_now", "_random", "_tau")

    def __init__(
        self,
        *,
        decay: float | timedelta = 10.0,
        default_rtt: float | timedelta = 0.03,
        clock: Clock = SYSTEM_CLOCK,
        seed: int | None = None,
    ) -> None:
        self._tau = _seconds(decay)
        if self._tau <= 0:
            raise ValueError(f"decay must be positive, not {decay!r}")
        self._default = _seconds(default_rtt)
        self._clock = clock
        self._now = clock.monotonic  # bound once: read on every pick
        self._random = random.Random(seed).random
        self._estimates: InstanceTable[_Estimate] = InstanceTable(_Estimate)

    def pick(self, instances: Sequence[Instance], key: str | None = None) -> Instance:
        n = len(instances)
        if n == 1:
            return instances[0]
        table = self._estimates
        aligned = table.aligned if instances is table.seen else self._align(instances)
        first, second = distinct_pair(self._random(), n)
        now = self._now()
        # A uniform ordered pair: keeping ``first`` on a tie is a fair coin (see PowerOfTwoChoices).
        if self._load(aligned[second], now) < self._load(aligned[first], now):
            return instances[second]
        return instances[first]

    def started(self, instance: Instance) -> None:
        estimate = self._estimates.get(instance)
        if estimate.cost == _COLD:
            estimate.cost = self._default
            estimate.stamp = self._clock.monotonic()
        estimate.pending += 1

    def finished(self, instance: Instance, duration: float, failed: bool) -> None:
        estimate = self._estimates.find(instance)
        if estimate is None:
            return
        if estimate.pending > 0:
            estimate.pending -= 1
        now = self._clock.monotonic()
        cost = estimate.cost
        if duration > cost or (estimate.guessed and not failed):
            estimate.cost = duration
            estimate.guessed = False
        elif failed:
            return  # a fast failure must not make an instance look fast: it only raises a peak
        else:
            weight = math.exp(-max(now - estimate.stamp, 0.0) / self._tau)
            estimate.cost = cost * weight + duration * (1.0 - weight)
        estimate.stamp = now

    def estimate(self, instance: Instance) -> float | None:
        """The current latency estimate for ``instance`` in seconds (None before any)."""
        estimate = self._estimates.find(instance)
        if estimate is None or estimate.cost == _COLD:
            return None
        return self._decayed(estimate, self._clock.monotonic())

    def _load(self, estimate: _Estimate, now: float) -> float:
        return self._decayed(estimate, now) * (estimate.pending + 1)

    def _decayed(self, estimate: _Estimate, now: float) -> float:
        elapsed = now - estimate.stamp
        if elapsed > 0.0:
            estimate.cost *= math.exp(-elapsed / self._tau)
            estimate.stamp = now
        return estimate.cost

    def _align(self, instances: Sequence[Instance]) -> list[_Estimate]:
        aligned = self._estimates.align(instances)
        now = self._clock.monotonic()
        warm = [self._decayed(e, now) for e in aligned if not e.guessed]
        neutral = sum(warm) / len(warm) if warm else self._default
        for estimate in aligned:
            if estimate.cost == _COLD:
                estimate.cost = neutral
                estimate.stamp = now
        return aligned


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
