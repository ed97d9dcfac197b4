"""Rate, error share and latency percentiles of a set of timed outcomes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Tally", "percentile"]


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ascending values; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class Tally:
    """Outcomes seen over a window: how many, how many failed, how long each took."""

    count: int = 0
    errors: int = 0
    durations: list[float] = field(default_factory=list)

    def add(self, seconds: float, failed: bool) -> None:
        self.count += 1
        self.errors += failed
        self.durations.append(seconds)

    def summary(self, window: float) -> dict[str, Any]:
        ordered = sorted(self.durations)
        return {
            "count": self.count,
            "rate": self.count / window if window > 0 else 0.0,
            "errors": self.errors,
            "error_pct": 100.0 * self.errors / self.count if self.count else 0.0,
            "p50": percentile(ordered, 50),
            "p95": percentile(ordered, 95),
            "p99": percentile(ordered, 99),
        }
