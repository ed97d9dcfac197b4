"""Retry: try again after a backoff, within the attempts, the budget and the deadline."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from interlink._clock import Clock
from interlink._errors import BulkheadFull, CallNotPermitted, DeadlineExceeded
from interlink.resilience._backoff import Backoff
from interlink.resilience._budget import RetryBudget
from interlink.resilience._config import ErrorSpec, matcher
from interlink.resilience._events import EventKind
from interlink.resilience._link import Next, PolicyBase

__all__ = ["Retry"]

_DEFAULT_BACKOFF = Backoff.exponential(initial=0.1, multiplier=2.0, max_delay=10.0, jitter="full")
# Retrying these cannot help: a local policy refused, or the time is up. Cancellation is a
# BaseException and is never caught at all.
_NEVER = (CallNotPermitted, BulkheadFull, DeadlineExceeded)


class Retry(PolicyBase):
    """Call again when an attempt raises an error matching ``on`` (or returns a result that
    ``on_result`` rejects), up to ``attempts`` calls in all.

    ``on`` has no default on purpose: which errors are safe to retry is the caller's decision.
    An error whose ``non_retryable`` attribute is true is never retried, whatever ``on`` says
    (interlink sets it on a call that may already have been processed by a non-idempotent
    handler).
    Between attempts it sleeps ``backoff(n)``, or an error's ``retry_after`` when that is longer,
    but never past the deadline. When it gives up it raises the last error (or returns the last
    rejected result).
    """

    __slots__ = ("_on", "_on_result", "attempts", "backoff", "budget")
    source = "retry"

    def __init__(
        self,
        *,
        attempts: int = 3,
        backoff: Backoff = _DEFAULT_BACKOFF,
        on: ErrorSpec,
        on_result: Callable[[Any], bool] | None = None,
        budget: RetryBudget | None = None,
        clock: Clock | None = None,
        name: str = "",
    ) -> None:
        super().__init__(name=name, clock=clock)
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(
                f"attempts counts the first call too and must be >= 1, not {attempts!r}"
            )
        if not isinstance(backoff, Backoff):
            raise TypeError(f"backoff must be a Backoff, not {backoff!r}")
        self.attempts = attempts
        self.backoff = backoff
        self.budget = budget
        self._on = matcher(on, "on")
        self._on_result = on_result

    def __repr__(self) -> str:
        return f"Retry(attempts={self.attempts}, backoff={self.backoff!r})"

    async def _link(
        self,
        nxt: Next,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float | None,
    ) -> Any:
        if self.budget is not None:
            self.budget.deposit()
        try:
            result = await nxt(fn, args, kwargs, deadline)
        except Exception as exc:
            error: Exception | None = exc
            result = None
        else:
            if self._on_result is None or not self._on_result(result):
                return result
            error = None
        return await self._again(nxt, fn, args, kwargs, deadline, error, result)

    async def _again(
        self,
        nxt: Next,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float | None,
        error: Exception | None,
        result: Any,
    ) -> Any:
        previous: float | None = None
        for attempt in range(1, self.attempts + 1):
            delay = self._delay(attempt, previous, error, deadline)
            if delay is None:
                break
            await self.clock.sleep(delay)
            previous = delay
            try:
                result = await nxt(fn, args, kwargs, deadline)
            except Exception as exc:
                error = exc
                continue
            error = None
            if self._on_result is None or not self._on_result(result):
                return result
        if error is not None:
            raise error
        return result

    def allows(self, error: BaseException) -> bool:
        """Whether ``error`` is one this policy would retry (attempts and deadline aside)."""
        if isinstance(error, _NEVER) or getattr(error, "non_retryable", False):
            return False
        return self._on(error)

    def delay_before(
        self, attempt: int, previous: float | None, error: BaseException | None
    ) -> float:
        """The pause before retry ``attempt`` (1 = first retry); an error's longer
        ``retry_after`` wins."""
        delay = self.backoff(attempt, previous)
        hint = getattr(error, "retry_after", None)
        if isinstance(hint, int | float) and hint > delay:
            delay = float(hint)
        return delay

    def _delay(
        self, attempt: int, previous: float | None, error: Exception | None, deadline: float | None
    ) -> float | None:
        """How long to sleep before retry ``attempt``, or None to give up now."""
        if error is not None and not self.allows(error):
            return None
        if attempt >= self.attempts:
            self._emit(EventKind.RETRIES_EXHAUSTED, error=error, attempt=attempt)
            return None
        delay = self.delay_before(attempt, previous, error)
        if deadline is not None and self.clock.monotonic() + delay >= deadline:
            return None
        if self.budget is not None and not self.budget.try_withdraw():
            self._emit(EventKind.RETRY_BUDGET_EXHAUSTED, error=error, attempt=attempt)
            return None
        self._emit(EventKind.RETRY, error=error, attempt=attempt + 1, delay=delay)
        return delay
