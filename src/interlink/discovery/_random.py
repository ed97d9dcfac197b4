"""Uniform random choice: no state shared between calls, so no coordination between clients."""

from __future__ import annotations

import random
from collections.abc import Sequence

from interlink.discovery._base import Instance

__all__ = ["Random"]


class Random:
    """Any instance, uniformly. ``seed`` makes the sequence reproducible (tests, benchmarks)."""

    __slots__ = ("_random",)

    def __init__(self, *, seed: int | None = None) -> None:
        self._random = random.Random(seed).random

    def pick(self, instances: Sequence[Instance], key: str | None = None) -> Instance:
        # int(random() * n) is several times cheaper than randrange(n); the bias is below 2**-50.
        return instances[int(self._random() * len(instances))]

    def started(self, instance: Instance) -> None:
        return None

    def finished(self, instance: Instance, duration: float, failed: bool) -> None:
        return None
