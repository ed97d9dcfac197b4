from __future__ import annotations

import interlink._errors as errors
import interlink.resilience as resilience

EXPECTED = [
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


def test_public_names_are_exactly_the_contract_and_sorted() -> None:
    assert resilience.__all__ == EXPECTED
    assert sorted(resilience.__all__) == resilience.__all__
    for name in EXPECTED:
        assert hasattr(resilience, name)


def test_errors_are_the_one_tree_not_copies() -> None:
    assert resilience.CallNotPermitted is errors.CallNotPermitted
    assert resilience.BulkheadFull is errors.BulkheadFull
    assert resilience.DeadlineExceeded is errors.DeadlineExceeded
    assert resilience.IllegalStateTransition is errors.IllegalStateTransition
    assert issubclass(resilience.DeadlineExceeded, TimeoutError)
