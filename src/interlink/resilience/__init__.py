"""Resilience policies: circuit breaker, retry, timeout and deadline, bulkhead, hedging,
fallback and adaptive throttling, each usable alone and composed by :class:`Policy`.

Semantics follow Resilience4j; docs/resilience.md describes every policy, the composition order
and the defaults. Every policy takes ``clock=`` (inject :class:`interlink.testing.FakeClock` in
tests) and reports what it does through ``policy.subscribe(listener)``.

Deadlines: a deadline is an absolute reading of the policy clock's ``monotonic()``.
``await policy.execute(fn, *args)`` runs ``fn(*args)`` with only the policy's own bounds;
``await policy.execute_with_deadline(deadline, fn, *args)`` also honours a caller's deadline and
calls ``fn(attempt_deadline, *args)`` so the attempt can hand the remaining time
(``policy.remaining(attempt_deadline)``) to the next hop.
"""

from interlink._errors import (
    BulkheadFull,
    CallNotPermitted,
    DeadlineExceeded,
    IllegalStateTransition,
)
from interlink.resilience._backoff import Backoff
from interlink.resilience._breaker import CircuitBreaker
from interlink.resilience._budget import RetryBudget
from interlink.resilience._bulkhead import Bulkhead
from interlink.resilience._fallback import Fallback
from interlink.resilience._hedge import Hedge
from interlink.resilience._policy import Policy
from interlink.resilience._retry import Retry
from interlink.resilience._state import BreakerState
from interlink.resilience._throttle import AdaptiveThrottle
from interlink.resilience._timeout import Timeout
from interlink.resilience._window import CountWindow, TimeWindow

__all__ = [
    "AdaptiveThrottle",
    "Backoff",
    "BreakerState",
    "Bulkhead",
    "BulkheadFull",
    "CallNotPermitted",
    "CircuitBreaker",
    "CountWindow",
    "DeadlineExceeded",
    "Fallback",
    "Hedge",
    "IllegalStateTransition",
    "Policy",
    "Retry",
    "RetryBudget",
    "TimeWindow",
    "Timeout",
]
