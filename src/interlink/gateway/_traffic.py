"""Traffic management: which version of a service gets a request (by header, or by weight for
a canary), and mirroring a copy of it to another service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import Scope

__all__ = ["Mirror", "Versions"]


class Versions:
    """Route to instances by their registered ``version``.

    ``header``: a request carrying it (e.g. ``version: v2``) goes only to instances of that
    version (503 when there is none). Otherwise ``weights`` (e.g. ``{"v1": 90, "v2": 10}``)
    share the requests out by smooth weighted round robin: of every ``sum(weights)`` requests,
    exactly ``weight`` go to each version; a version with no healthy instance at that moment
    gives its turn to any instance. Without either, any instance serves.
    """

    __slots__ = ("_current", "_names", "_total", "header", "weights")

    def __init__(self, *, header: str | None = None, weights: Mapping[str, int] | None = None):
        self.header = None if header is None else header.lower().encode("latin-1")
        self.weights = dict(weights or {})
        if any(w < 0 for w in self.weights.values()):
            raise ValueError(f"weights must be >= 0: {self.weights!r}")
        self._names = [name for name, weight in self.weights.items() if weight > 0]
        self._total = sum(self.weights.values())
        self._current = dict.fromkeys(self._names, 0)

    def requested(self, scope: Scope) -> str | None:
        """The version the request's header asks for, if any."""
        if self.header is None:
            return None
        for name, value in scope["headers"]:
            if name.lower() == self.header:
                return str(value.decode("latin-1"))
        return None

    def next_weighted(self) -> str | None:
        """The version whose turn it is (nginx's smooth weighted round robin)."""
        if not self._names:
            return None
        best = self._names[0]
        for name in self._names:
            self._current[name] += self.weights[name]
            if self._current[name] > self._current[best]:
                best = name
        self._current[best] -= self._total
        return best


@dataclass(frozen=True, kw_only=True)
class Mirror:
    """Send a copy of each request whose body came whole to ``service`` too, fire and forget:
    its answer is read and dropped, its failure is logged at debug level, and it never delays
    or changes the client's answer. At most ``max_in_flight`` copies are under way at once;
    past that, copies are skipped. The copy carries ``x-interlink-mirror: 1``."""

    service: str
    max_in_flight: int = 16
