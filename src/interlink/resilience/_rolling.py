"""Sums over the last N seconds, kept in one-second buckets (breaker, budget, throttle)."""

from __future__ import annotations

import math

from interlink._clock import Clock
from interlink.resilience._config import monotonic_reader

__all__ = ["RollingSums"]


class RollingSums:
    """``fields`` running totals over the last ``seconds`` whole seconds of ``clock``.

    Invariant: ``totals[i]`` is the sum of ``buckets[*][i]``; bucket ``s % seconds`` holds second
    ``s`` for every second in ``(head - seconds, head]``, and ``_current`` is bucket ``head``.
    """

    __slots__ = ("_buckets", "_current", "_head", "_monotonic", "_next", "_size", "totals")

    def __init__(self, seconds: int, fields: int, clock: Clock) -> None:
        self._monotonic = monotonic_reader(clock)
        self._size = seconds
        self._buckets = [[0] * fields for _ in range(seconds)]
        self._head = math.floor(self._monotonic())
        self._next = self._head + 1.0
        self._current = self._buckets[self._head % seconds]
        self.totals = [0] * fields

    def add(self, field: int, amount: int = 1) -> None:
        if self._monotonic() >= self._next:
            self.refresh()
        self._current[field] += amount
        self.totals[field] += amount

    def add_each(self, amounts: tuple[int, ...]) -> None:
        """Add ``amounts[i]`` to field ``i``, for every field at once."""
        self.refresh()
        bucket, totals = self._current, self.totals
        for i, amount in enumerate(amounts):
            bucket[i] += amount
            totals[i] += amount

    def refresh(self) -> None:
        """Drop the seconds that have slid out of the window."""
        now = self._monotonic()
        if now < self._next:
            return
        second = math.floor(now)
        size, buckets = self._size, self._buckets
        for expired in range(self._head + 1, min(second, self._head + size) + 1):
            self._clear(buckets[expired % size])
        self._head = second
        self._next = second + 1.0
        self._current = buckets[second % size]

    def _clear(self, bucket: list[int]) -> None:
        totals = self.totals
        for i, amount in enumerate(bucket):
            totals[i] -= amount
            bucket[i] = 0
