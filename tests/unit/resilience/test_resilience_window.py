"""Sliding windows: the Resilience4j cases, and the count window as a ring, as a property."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interlink.resilience import BreakerState, CircuitBreaker, CountWindow, TimeWindow
from interlink.resilience._events import Event, EventKind
from interlink.testing import FakeClock


def _outcome(breaker: CircuitBreaker, failed: bool) -> None:
    assert breaker.try_acquire()
    if failed:
        breaker.on_error(RuntimeError("boom"))
    else:
        breaker.on_success()


def test_count_window_of_4_e_s_s_s_is_25_percent_and_one_more_s_is_0() -> None:
    breaker = CircuitBreaker(window=CountWindow(4), minimum_calls=4, failure_rate=0.5)
    for failed in (True, False, False, False):
        _outcome(breaker, failed)
    assert breaker.metrics.failure_rate == 0.25
    _outcome(breaker, False)
    assert breaker.metrics.failure_rate == 0.0
    assert breaker.metrics.calls == 4


def test_time_window_three_failures_stay_closed_then_two_successes_open_once(
    clock: FakeClock,
) -> None:
    breaker = CircuitBreaker(window=TimeWindow(20), minimum_calls=5, failure_rate=0.5, clock=clock)
    seen: list[Event] = []
    breaker.subscribe(seen.append)
    for _ in range(3):
        _outcome(breaker, True)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.metrics.failure_rate == -1.0
    assert breaker.metrics.failed_calls == 3
    _outcome(breaker, False)
    _outcome(breaker, False)
    assert breaker.state is BreakerState.OPEN
    assert breaker.metrics.failure_rate == pytest.approx(0.6)
    assert [e.kind for e in seen].count(EventKind.FAILURE_RATE_EXCEEDED) == 1


def test_time_window_forgets_calls_older_than_its_seconds(clock: FakeClock) -> None:
    breaker = CircuitBreaker(window=TimeWindow(10), minimum_calls=1, failure_rate=1.0, clock=clock)
    _outcome(breaker, False)
    clock.advance(5)
    _outcome(breaker, False)
    assert breaker.metrics.calls == 2
    clock.advance(5)  # the first call's second has slid out
    assert breaker.metrics.calls == 1
    clock.advance(100)
    assert breaker.metrics.calls == 0


def test_minimum_calls_is_clamped_to_the_count_window_size() -> None:
    breaker = CircuitBreaker(window=CountWindow(2), minimum_calls=100, failure_rate=0.5)
    _outcome(breaker, True)
    _outcome(breaker, True)
    assert breaker.state is BreakerState.OPEN


@given(st.integers(1, 12), st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60))
def test_count_window_rates_are_those_of_the_last_n_outcomes(
    size: int, outcomes: list[tuple[bool, bool]]
) -> None:
    # failure_rate=1.0 with a slow rate of 1.0 only opens when all are bad; METRICS_ONLY never
    # opens, so every outcome is recorded.
    breaker = CircuitBreaker(
        window=CountWindow(size),
        minimum_calls=1,
        slow_call_duration=1.0,
        initial_state=BreakerState.METRICS_ONLY,
    )
    for failed, slow in outcomes:
        duration = 2.0 if slow else 0.0
        if failed:
            breaker.on_error(RuntimeError(), duration)
        else:
            breaker.on_success(duration)
    last = outcomes[-size:]
    metrics = breaker.metrics
    assert metrics.calls == len(last)
    assert metrics.failed_calls == sum(f for f, _ in last)
    assert metrics.slow_calls == sum(s for _, s in last)
    if last:
        assert metrics.failure_rate == sum(f for f, _ in last) / len(last)
    else:
        assert metrics.failure_rate == -1.0


def test_window_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="CountWindow size"):
        CountWindow(0)
    with pytest.raises(ValueError, match="whole number of seconds"):
        TimeWindow(1.5)
    assert TimeWindow(timedelta(minutes=1)).seconds == 60


@given(
    st.integers(1, 30),
    st.lists(st.tuples(st.floats(0.0, 7.0), st.booleans()), max_size=80),
)
def test_time_window_counts_exactly_the_calls_of_the_last_n_seconds(
    seconds: int, steps: list[tuple[float, bool]]
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        window=TimeWindow(seconds),
        minimum_calls=1,
        initial_state=BreakerState.METRICS_ONLY,
        clock=clock,
    )
    recorded: list[tuple[float, bool]] = []
    for step, failed in steps:
        clock.advance(step)
        if failed:
            breaker.on_error(RuntimeError())
        else:
            breaker.on_success()
        recorded.append((clock.monotonic(), failed))
    # a call belongs to second floor(t); the window holds the last `seconds` whole seconds
    now = int(clock.monotonic())
    kept = [failed for at, failed in recorded if int(at) > now - seconds]
    metrics = breaker.metrics
    assert metrics.calls == len(kept)
    assert metrics.failed_calls == sum(kept)
