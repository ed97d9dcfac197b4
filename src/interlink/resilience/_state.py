"""The circuit breaker's states and which transitions between them are allowed."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BreakerState", "is_legal"]


class BreakerState(StrEnum):
    """Where a :class:`CircuitBreaker` stands.

    CLOSED, OPEN and HALF_OPEN are driven by the recorded outcomes; DISABLED, FORCED_OPEN and
    METRICS_ONLY are set by hand and left only by hand (``transition_to`` or ``reset``).
    """

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"
    DISABLED = "DISABLED"
    FORCED_OPEN = "FORCED_OPEN"
    METRICS_ONLY = "METRICS_ONLY"


# The pairs Resilience4j's state machine has no transition for; everything else is allowed.
_ILLEGAL = frozenset(
    {
        (BreakerState.CLOSED, BreakerState.HALF_OPEN),
        (BreakerState.METRICS_ONLY, BreakerState.OPEN),
        (BreakerState.METRICS_ONLY, BreakerState.HALF_OPEN),
    }
)


def is_legal(source: BreakerState, target: BreakerState) -> bool:
    return (source, target) not in _ILLEGAL
