"""``StepRetry``: how a step is retried, and when its failure is permanent."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from interlink._errors import ApplicationError
from interlink.resilience._config import seconds

__all__ = ["StepRetry"]

ErrorMatch = type[BaseException] | str
"""An exception class, or a type name (matches the class name or a ``RemoteError.remote_type``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class StepRetry:
    """Attempt ``n`` (1 = the first retry) waits ``initial * multiplier ** (n - 1)``, at most
    ``max_interval``; no jitter, so schedules are exact and testable.

    ``max_attempts`` counts the first attempt; ``None`` retries forever (a retriable step, a
    compensation always do). An error matching ``non_retryable`` is permanent at once; by
    default a participant's declared answer (an :class:`~interlink.ApplicationError`) is.
    ``timeout`` bounds each attempt; an attempt past it has an unknown outcome.
    """

    initial: float | timedelta = 1.0
    multiplier: float = 2.0
    max_interval: float | timedelta = 60.0
    max_attempts: int | None = 3
    non_retryable: Sequence[ErrorMatch] = field(default=(ApplicationError,))
    timeout: float | timedelta = 30.0

    def __post_init__(self) -> None:
        for name in ("initial", "max_interval", "timeout"):
            object.__setattr__(self, name, seconds(getattr(self, name), name))
        if self.multiplier < 1.0:
            raise ValueError(f"multiplier must be >= 1, not {self.multiplier!r}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 or None, not {self.max_attempts!r}")
        object.__setattr__(self, "non_retryable", tuple(self.non_retryable))

    @property
    def attempt_timeout(self) -> float:
        return float(self.timeout)  # type: ignore[arg-type]

    def delay(self, retry: int) -> float:
        """The pause before retry ``retry`` (1 = the first retry)."""
        initial, cap = float(self.initial), float(self.max_interval)  # type: ignore[arg-type]
        try:
            return min(cap, initial * self.multiplier ** (retry - 1))
        except OverflowError:
            return cap if math.isfinite(cap) else initial

    def is_permanent(self, error: BaseException) -> bool:
        """Whether ``error`` must not be retried."""
        names = {type(error).__name__, getattr(error, "remote_type", None)}
        for match in self.non_retryable:
            if isinstance(match, str):
                if match in names:
                    return True
            elif isinstance(error, match):
                return True
        return False

    def exhausted(self, attempts: int) -> bool:
        return self.max_attempts is not None and attempts >= self.max_attempts
