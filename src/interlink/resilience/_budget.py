"""RetryBudget: keep retries a bounded share of traffic (Finagle and gRPC style)."""

from __future__ import annotations

from interlink._clock import Clock
from interlink.resilience._config import Seconds, as_clock, fraction, whole_seconds
from interlink.resilience._rolling import RollingSums

__all__ = ["RetryBudget"]

_REQUESTS, _RETRIES = 0, 1


class RetryBudget:
    """Allow retries while they stay under ``ratio`` of the requests of the last ``ttl``
    seconds, plus a floor of ``min_per_second`` retries per second so a quiet client can still
    retry. Share one budget between the Retry policies that call the same dependency: when it
    is overloaded, retries stop multiplying the load.
    """

    __slots__ = ("_counts", "_reserve", "min_per_second", "ratio", "ttl")

    def __init__(
        self,
        *,
        ratio: float = 0.1,
        min_per_second: float = 10,
        ttl: Seconds = 10,
        clock: Clock | None = None,
    ) -> None:
        self.ratio = fraction(ratio, "ratio")
        if isinstance(min_per_second, bool) or not min_per_second >= 0:
            raise ValueError(f"min_per_second must be 0 or more, not {min_per_second!r}")
        self.min_per_second = float(min_per_second)
        self.ttl = whole_seconds(ttl, "ttl")
        self._reserve = self.min_per_second * self.ttl
        self._counts = RollingSums(self.ttl, 2, as_clock(clock))

    def __repr__(self) -> str:
        return f"RetryBudget(ratio={self.ratio}, min_per_second={self.min_per_second})"

    def deposit(self) -> None:
        """Count one original request (not a retry)."""
        self._counts.add(_REQUESTS)

    def try_withdraw(self) -> bool:
        """Take one retry from the budget; False when the budget is spent."""
        counts = self._counts
        counts.refresh()
        requests, retries = counts.totals
        if retries + 1 > self.ratio * requests + self._reserve:
            return False
        counts.add(_RETRIES)
        return True

    @property
    def available(self) -> float:
        """How many retries the budget would allow right now."""
        self._counts.refresh()
        requests, retries = self._counts.totals
        return max(0.0, self.ratio * requests + self._reserve - retries)
