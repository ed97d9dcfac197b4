"""Picking one instance among many."""

from __future__ import annotations

from collections.abc import Sequence

from interlink.discovery._base import Instance

__all__ = ["RoundRobin"]


class RoundRobin:
    """Each service's instances in turn."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def pick(self, service: str, instances: Sequence[Instance]) -> Instance:
        turn = self._next.get(service, 0)
        self._next[service] = turn + 1
        return instances[turn % len(instances)]
