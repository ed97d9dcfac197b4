"""Smooth weighted round robin, as nginx does it: weights 5, 1, 1 give a a b a c a a.

Each turn every instance's current weight grows by its weight, the largest is chosen (the first
in list order on a tie) and loses the sum of all weights. Picks are spread through the cycle
instead of bunched. The cycle repeats every ``sum(weights) / gcd`` turns, so for an instance
set it is computed once and a pick is one list index; only an unusually long cycle is run live.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from interlink.discovery._base import Instance

__all__ = ["Weighted"]

_SCHEDULES_KEPT = 8  # distinct instance sets whose cycles stay computed
_MAX_WORK = 1 << 16  # cycle length * instances above which picks run the algorithm live


class Weighted:
    """Each instance in proportion to ``Instance.weight``; a weight of 0 means no traffic
    (unless every weight is 0, which counts as all equal)."""

    __slots__ = ("_current", "_cycle", "_schedules", "_seen", "_turn", "_weights")

    def __init__(self) -> None:
        self._schedules: dict[tuple[tuple[str, int], ...], list[int] | None] = {}
        self._seen: Sequence[Instance] = ()
        self._cycle: list[Instance] | None = None
        self._weights: list[int] = []
        self._current: list[int] = []
        self._turn = 0

    def pick(self, instances: Sequence[Instance], key: str | None = None) -> Instance:
        if instances is not self._seen:
            self._align(instances)
        cycle = self._cycle
        if cycle is None:
            return instances[self._live_turn()]
        turn = self._turn
        self._turn = turn + 1
        return cycle[turn % len(cycle)]

    def started(self, instance: Instance) -> None:
        return None

    def finished(self, instance: Instance, duration: float, failed: bool) -> None:
        return None

    def _align(self, instances: Sequence[Instance]) -> None:
        members = tuple((instance.id, instance.weight) for instance in instances)
        weights = _weights(members)
        if members in self._schedules:
            schedule = self._schedules[members]
        else:
            schedule = _schedule(weights)
            if len(self._schedules) >= _SCHEDULES_KEPT:
                del self._schedules[next(iter(self._schedules))]
            self._schedules[members] = schedule
        self._cycle = None if schedule is None else [instances[k] for k in schedule]
        self._weights = weights
        self._current = [0] * len(weights)
        self._seen = instances

    def _live_turn(self) -> int:
        current, weights = self._current, self._weights
        best = 0
        for k, weight in enumerate(weights):
            current[k] += weight
            if current[k] > current[best]:
                best = k
        current[best] -= sum(weights)
        return best


def _weights(members: tuple[tuple[str, int], ...]) -> list[int]:
    weights = [max(weight, 0) for _, weight in members]
    if not any(weights):
        return [1] * len(weights)
    divisor = math.gcd(*weights)
    return [weight // divisor for weight in weights]


def _schedule(weights: list[int]) -> list[int] | None:
    """One full cycle of picks (indexes), or None when it is too long to precompute."""
    total = sum(weights)
    if len(set(weights)) == 1:
        return list(range(len(weights)))  # equal weights: plain round robin in list order
    if total * len(weights) > _MAX_WORK:
        return None
    current = [0] * len(weights)
    schedule = []
    for _ in range(total):
        best = 0
        for k, weight in enumerate(weights):
            current[k] += weight
            if current[k] > current[best]:
                best = k
        current[best] -= total
        schedule.append(best)
    return schedule
