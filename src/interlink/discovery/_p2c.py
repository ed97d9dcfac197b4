"""Power of two choices: of two instances drawn at random, the one with fewer calls in flight.

Mitzenmacher's result: two random choices cut the maximum load exponentially compared with
one, without the herding that "least loaded of all" causes when every client acts on the same
stale view. The in-flight count is this client's own (``started`` / ``finished``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from interlink.discovery._base import Instance

__all__ = ["InstanceTable", "PowerOfTwoChoices"]

T = TypeVar("T")


class InstanceTable(Generic[T]):
    """Per-instance state by id, plus the same states lined up with the last list picked from.

    ``aligned[k]`` belongs to ``seen[k]``. The discovery cache builds a new list on every
    change and never mutates one it handed out, so ``instances is table.seen`` proves the
    alignment still holds and a pick costs no dict lookup.
    """

    __slots__ = ("_by_id", "_new", "aligned", "seen")

    def __init__(self, new: Callable[[], T]) -> None:
        self._new = new
        self._by_id: dict[str, T] = {}
        self.seen: Sequence[Instance] = ()
        self.aligned: list[T] = []

    def align(self, instances: Sequence[Instance]) -> list[T]:
        self.aligned = [self.get(instance) for instance in instances]
        self.seen = instances
        if len(self._by_id) > 2 * len(instances) + 16:
            # Bound memory as instances come and go; state of the current ones survives.
            current = {instance.id for instance in instances}
            self._by_id = {k: v for k, v in self._by_id.items() if k in current}
        return self.aligned

    def get(self, instance: Instance) -> T:
        state = self._by_id.get(instance.id)
        if state is None:
            state = self._by_id[instance.id] = self._new()
        return state

    def find(self, instance: Instance) -> T | None:
        return self._by_id.get(instance.id)


class _Load:
    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = 0


def distinct_pair(draw: float, n: int) -> tuple[int, int]:
    """Two different indices below ``n`` (n >= 2), uniform as an ordered pair, from one draw
    in [0, 1): the fraction left after taking the first is itself uniform."""
    scaled = draw * n
    first = int(scaled)
    second = int((scaled - first) * (n - 1))
    return first, second + 1 if second >= first else second


class PowerOfTwoChoices:
    """Least outstanding requests between two random picks (the default balancer)."""

    __slots__ = ("_loads", "_random")

    def __init__(self, *, seed: int | None = None) -> None:
        self._random = random.Random(seed).random
        self._loads: InstanceTable[_Load] = InstanceTable(_Load)

    def pick(self, instances: Sequence[Instance], key: str | None = None) -> Instance:
        n = len(instances)
        if n == 1:
            return instances[0]
        loads = self._loads
        aligned = loads.aligned if instances is loads.seen else loads.align(instances)
        first, second = distinct_pair(self._random(), n)
        # (first, second) is a uniform ordered pair, so keeping ``first`` on a tie is already a
        # fair coin between the two: ties are broken randomly without a third draw.
        if aligned[second].pending < aligned[first].pending:
            return instances[second]
        return instances[first]

    def started(self, instance: Instance) -> None:
        self._loads.get(instance).pending += 1

    def finished(self, instance: Instance, duration: float, failed: bool) -> None:
        load = self._loads.find(instance)
        if load is not None and load.pending > 0:
            load.pending -= 1

    def outstanding(self, instance: Instance) -> int:
        """Calls to ``instance`` started through this balancer and not yet finished."""
        load = self._loads.find(instance)
        return 0 if load is None else load.pending
