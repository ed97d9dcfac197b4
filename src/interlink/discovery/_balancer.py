"""Picking one instance among many: the LoadBalancer protocol, and round robin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from interlink.discovery._base import Instance

__all__ = ["LoadBalancer", "RoundRobin"]


@runtime_checkable
class LoadBalancer(Protocol):
    """One per target service. ``pick`` is on every call's path: keep it to a few µs."""

    def pick(self, instances: Sequence[Instance], key: str | None = None) -> Instance:
        """Choose among ``instances`` (never empty). ``key`` asks for affinity, where supported."""
        ...

    def started(self, instance: Instance) -> None:
        """A call to ``instance`` began."""

    def finished(self, instance: Instance, duration: float, failed: bool) -> None:
        """That call ended after ``duration`` seconds."""


class RoundRobin:
    """Each instance in turn."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = 0

    def pick(self, instances: Sequence[Instance], key: str | None = None) -> Instance:
        turn = self._next
        self._next = turn + 1
        return instances[turn % len(instances)]

    def started(self, instance: Instance) -> None:
        return None

    def finished(self, instance: Instance, duration: float, failed: bool) -> None:
        return None
