"""Ring hash: consistent hashing with virtual nodes, for affinity by key.

Every instance owns ``replicas`` points (scaled by its weight) on a ring of 2**32; a key goes to
the owner of the first point at or after its hash. Adding or removing one instance of N moves
only about 1/N of the keys, and every client computes the same ring from the same ids, so
they agree on where a key lives. Calls without a key go to the ``fallback`` balancer.
"""

from __future__ import annotations

import bisect
import hashlib
import zlib
from collections.abc import Sequence

from interlink.discovery._balancer import LoadBalancer
from interlink.discovery._base import Instance
from interlink.discovery._p2c import PowerOfTwoChoices

__all__ = ["RingHash"]

_RINGS_KEPT = 8  # distinct instance sets whose rings stay built (ejections, failover subsets)
_POINTS_PER_DIGEST = 16  # one 64-byte blake2b digest yields sixteen 32-bit points


class _Ring:
    __slots__ = ("owners", "points")

    def __init__(self, points: list[int], owners: list[str]) -> None:
        self.points = points
        self.owners = owners


class RingHash:
    """The same key to the same instance while it is there; ``fallback`` (P2C) without a key."""

    __slots__ = ("_fallback", "_owners", "_points", "_points_of", "_replicas", "_rings", "_seen")

    def __init__(self, *, replicas: int = 100, fallback: LoadBalancer | None = None) -> None:
        if replicas < 1:
            raise ValueError(f"replicas must be at least 1, not {replicas!r}")
        self._replicas = replicas
        self._fallback: LoadBalancer = PowerOfTwoChoices() if fallback is None else fallback
        self._rings: dict[tuple[tuple[str, int], ...], _Ring] = {}
        self._points_of: dict[tuple[str, int], list[int]] = {}
        self._seen: Sequence[Instance] = ()
        self._points: list[int] = []
        self._owners: list[Instance] = []

    def pick(self, instances: Sequence[Instance], key: str | None = None) -> Instance:
        if key is None:
            return self._fallback.pick(instances)
        if instances is not self._seen:
            self._align(instances)
        # crc32, not hash(): str hashes differ per process, and every client must agree.
        at = bisect.bisect_left(self._points, zlib.crc32(key.encode()))
        owners = self._owners
        return owners[at] if at < len(owners) else owners[0]

    def started(self, instance: Instance) -> None:
        self._fallback.started(instance)

    def finished(self, instance: Instance, duration: float, failed: bool) -> None:
        self._fallback.finished(instance, duration, failed)

    def _align(self, instances: Sequence[Instance]) -> None:
        members = tuple((instance.id, instance.weight) for instance in instances)
        ring = self._rings.get(members)
        if ring is None:
            ring = self._build(members)
        by_id = {instance.id: instance for instance in instances}
        self._owners = [by_id[owner] for owner in ring.owners]
        self._points = ring.points
        self._seen = instances

    def _build(self, members: tuple[tuple[str, int], ...]) -> _Ring:
        placed = sorted(
            (point, instance_id)
            for instance_id, weight in members
            for point in self._points_for(instance_id, weight)
        )
        ring = _Ring([point for point, _ in placed], [owner for _, owner in placed])
        if len(self._rings) >= _RINGS_KEPT:
            del self._rings[next(iter(self._rings))]
        self._rings[members] = ring
        if len(self._points_of) > 2 * len(members) + 16:
            current = set(members)
            self._points_of = {k: v for k, v in self._points_of.items() if k in current}
        return ring

    def _points_for(self, instance_id: str, weight: int) -> list[int]:
        points = self._points_of.get((instance_id, weight))
        if points is None:
            count = max(1, round(self._replicas * max(weight, 0) / 100))
            points = []
            for block in range(-(-count // _POINTS_PER_DIGEST)):
                digest = hashlib.blake2b(f"{instance_id}#{block}".encode(), digest_size=64)
                raw = digest.digest()
                points.extend(int.from_bytes(raw[k : k + 4], "big") for k in range(0, 64, 4))
            points = self._points_of[instance_id, weight] = points[:count]
        return points
