"""Outlier ejection: stop sending to an instance that keeps failing, for a growing while.

``consecutive_failures`` failed calls in a row eject an instance for ``base_ejection`` times the
number of times it has been ejected (capped at ``max_ejection``); the count falls back by one
for every ``base_ejection`` it then stays admitted. Two guards keep ejection from making an
outage worse, as in Envoy: at most ``max_ejection_percent`` of the instances are ejected at
once, and in panic mode (fewer than ``panic_threshold`` percent of the instances would be
left, e.g. after others deregistered) ejections are ignored and every instance is used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.discovery._balancer import LoadBalancer
from interlink.discovery._base import Instance

__all__ = ["OutlierDetector", "OutlierEjecting"]


class _Record:
    __slots__ = ("ejections", "failures", "until")

    def __init__(self) -> None:
        self.failures = 0  # consecutive
        self.ejections = 0  # the multiplier of the next ejection time, minus one
        self.until = 0.0  # the end of the latest ejection (monotonic)


class OutlierDetector:
    """Per-instance failure streaks in, a filtered list of instances out.

    The detector learns how many instances there are from :meth:`filter`, so the cap on
    ejections holds against the last list it filtered.
    """

    def __init__(
        self,
        *,
        consecutive_failures: int = 5,
        base_ejection: float | timedelta = 30.0,
        max_ejection: float | timedelta = 300.0,
        max_ejection_percent: float = 50.0,
        panic_threshold: float = 50.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if consecutive_failures < 1:
            raise ValueError(f"consecutive_failures must be at least 1, not {consecutive_failures}")
        for name, percent in [
            ("max_ejection_percent", max_ejection_percent),
            ("panic_threshold", panic_threshold),
        ]:
            if not 0.0 <= percent <= 100.0:
                raise ValueError(f"{name} is a percentage (0 to 100), not {percent!r}")
        self._threshold = consecutive_failures
        self._base = _seconds(base_ejection)
        self._max = _seconds(max_ejection)
        self._max_share = max_ejection_percent / 100.0
        self._panic_share = panic_threshold / 100.0
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._ejected: dict[str, float] = {}  # id -> ejected until
        self._next_expiry = math.inf
        self._population = 0
        # Invariant: ``_kept`` is ``filter(_seen)`` for as long as ``_epoch`` has not moved.
        self._epoch = 0
        self._seen: Sequence[Instance] = ()
        self._kept: Sequence[Instance] = ()
        self._kept_epoch = -1

    @property
    def ejected(self) -> frozenset[str]:
        """The ids of the instances ejected now."""
        self._expire(self._clock.monotonic())
        return frozenset(self._ejected)

    def record(self, instance: Instance, failed: bool) -> None:
        """The outcome of one call to ``instance``."""
        record = self._records.get(instance.id)
        if not failed:
            if record is not None:
                record.failures = 0
                self._forget_if_forgiven(instance.id, record)
            return
        if instance.id in self._ejected:
            return  # calls already in flight when it was ejected: no new evidence
        if record is None:
            record = self._records[instance.id] = _Record()
        record.failures += 1
        if record.failures >= self._threshold:
            self._eject(instance.id, record)

    def filter(self, instances: Sequence[Instance]) -> Sequence[Instance]:
        """``instances`` without the ejected ones; the same list object when none is ejected,
        so balancers keep their per-list precomputation."""
        self._population = len(instances)
        if not self._ejected:
            return instances
        now = self._clock.monotonic()
        if now >= self._next_expiry:
            self._expire(now)
            if not self._ejected:
                return instances
        if instances is self._seen and self._kept_epoch == self._epoch:
            return self._kept
        ejected = self._ejected
        kept: Sequence[Instance] = [i for i in instances if i.id not in ejected]
        if not kept or len(kept) < self._panic_share * len(instances):
            kept = instances  # panic: too few would be left, so ejections are ignored
        self._seen, self._kept, self._kept_epoch = instances, kept, self._epoch
        return kept

    def _eject(self, instance_id: str, record: _Record) -> None:
        now = self._clock.monotonic()
        self._expire(now)
        if len(self._ejected) + 1 > math.floor(self._max_share * self._population):
            return  # at the cap: the streak goes on, and ejects once there is room
        if record.ejections:
            admitted = max(now - record.until, 0.0)
            record.ejections = max(record.ejections - int(admitted // self._base), 0)
        record.ejections += 1
        record.until = now + min(self._base * record.ejections, self._max)
        record.failures = 0
        self._ejected[instance_id] = record.until
        self._next_expiry = min(self._next_expiry, record.until)
        self._epoch += 1

    def _expire(self, now: float) -> None:
        if now < self._next_expiry:
            return
        self._ejected = {k: until for k, until in self._ejected.items() if until > now}
        self._next_expiry = min(self._ejected.values(), default=math.inf)
        self._epoch += 1

    def _forget_if_forgiven(self, instance_id: str, record: _Record) -> None:
        """Drop the record once its multiplier has decayed to nothing (bounds memory)."""
        if instance_id in self._ejected:
            return
        if record.ejections == 0 or (
            self._clock.monotonic() - record.until >= self._base * record.ejections
        ):
            del self._records[instance_id]


class OutlierEjecting:
    """A :class:`LoadBalancer` link: ``balancer`` picks among the instances ``detector`` keeps,
    and every finished call is recorded in ``detector``."""

    __slots__ = ("_filter", "_pick", "balancer", "detector")

    def __init__(self, balancer: LoadBalancer, detector: OutlierDetector) -> None:
        self.balancer = balancer
        self.detector = detector
        self._pick = balancer.pick  # bound once: pick is on every call's path
        self._filter = detector.filter

    def pick(self, instances: Sequence[Instance], key: str | None = None) -> Instance:
        return self._pick(self._filter(instances), key)

    def started(self, instance: Instance) -> None:
        self.balancer.started(instance)

    def finished(self, instance: Instance, duration: float, failed: bool) -> None:
        self.detector.record(instance, failed)
        self.balancer.finished(instance, duration, failed)

    def __repr__(self) -> str:
        return f"OutlierEjecting({self.balancer!r})"


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
