"""CircuitBreaker semantics (Resilience4j's), on the fake clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from interlink.resilience import (
    Backoff,
    BreakerState,
    BulkheadFull,
    CallNotPermitted,
    CircuitBreaker,
    CountWindow,
)
from interlink.resilience._events import Event, EventKind
from interlink.testing import FakeClock

Until = Callable[[Callable[[], bool]], Awaitable[None]]

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def small(clock: FakeClock, **overrides: object) -> CircuitBreaker:
    options: dict[str, object] = {
        "window": CountWindow(4),
        "minimum_calls": 4,
        "failure_rate": 0.5,
        "wait_in_open": 5.0,
        "half_open_calls": 4,
        "clock": clock,
        "name": "payment",
    }
    options.update(overrides)
    return CircuitBreaker(**options)  # type: ignore[arg-type]


def feed(breaker: CircuitBreaker, pattern: str) -> None:
    """F = failure, S = success, each through try_acquire (which must permit)."""
    for letter in pattern:
        assert breaker.try_acquire(), f"refused before {letter!r} in {pattern!r}"
        if letter == "F":
            breaker.on_error(RuntimeError("down"))
        else:
            breaker.on_success()


def trip(breaker: CircuitBreaker) -> None:
    feed(breaker, "FFFF")
    assert breaker.state is OPEN


def test_failure_rate_trips_inclusively_once_minimum_calls_are_in(clock: FakeClock) -> None:
    breaker = small(clock)
    feed(breaker, "FFS")
    assert breaker.state is CLOSED  # 3 calls < minimum 4
    feed(breaker, "S")  # 2 of 4 = 50 % >= 50 %
    assert breaker.state is OPEN


def test_open_rejects_counts_and_says_when_to_come_back(clock: FakeClock) -> None:
    breaker = small(clock)
    trip(breaker)
    clock.advance(2)
    assert not breaker.try_acquire()
    assert breaker.metrics.not_permitted_calls == 1
    error = breaker.rejection()
    assert isinstance(error, CallNotPermitted)
    assert error.retry_after == pytest.approx(3.0)
    assert error.name == "payment"
    assert error.not_processed


async def test_call_raises_call_not_permitted_with_retry_after(clock: FakeClock) -> None:
    breaker = small(clock)
    trip(breaker)
    ran = False

    async def work() -> None:
        nonlocal ran
        ran = True

    with pytest.raises(CallNotPermitted) as caught:
        await breaker.call(work)
    assert caught.value.retry_after == pytest.approx(5.0)
    assert not ran


def test_open_goes_half_open_lazily_and_reading_state_never_transitions(
    clock: FakeClock,
) -> None:
    breaker = small(clock)
    trip(breaker)
    clock.advance(5)
    assert breaker.state is OPEN  # the wait is over, but nobody asked
    assert breaker.try_acquire()
    assert breaker.state is HALF_OPEN


def test_half_open_f_f_s_f_reopens(clock: FakeClock) -> None:
    breaker = small(clock)
    trip(breaker)
    clock.advance(5)
    feed(breaker, "FFSF")
    assert breaker.state is OPEN


def test_half_open_f_s_s_s_closes(clock: FakeClock) -> None:
    breaker = small(clock)
    trip(breaker)
    clock.advance(5)
    feed(breaker, "FSSS")
    assert breaker.state is CLOSED
    assert breaker.metrics.calls == 0  # CLOSED starts fresh


def test_half_open_admits_only_its_probes_and_decides_when_all_are_in(clock: FakeClock) -> None:
    breaker = small(clock, half_open_calls=2)
    trip(breaker)
    clock.advance(5)
    assert breaker.try_acquire()
    assert breaker.try_acquire()
    assert not breaker.try_acquire()
    assert breaker.rejection().retry_after is None
    breaker.on_success()
    assert breaker.state is HALF_OPEN
    breaker.on_success()
    assert breaker.state is CLOSED


def test_release_returns_a_half_open_probe(clock: FakeClock) -> None:
    breaker = small(clock, half_open_calls=1)
    trip(breaker)
    clock.advance(5)
    assert breaker.try_acquire()
    assert not breaker.try_acquire()
    breaker.release()
    assert breaker.try_acquire()


def test_exponential_wait_makes_the_second_open_last_7_5_seconds(clock: FakeClock) -> None:
    wait = Backoff.exponential(initial=5.0, multiplier=1.5, max_delay=60.0, jitter="none")
    breaker = small(clock, wait_in_open=wait)
    trip(breaker)
    clock.advance(5)
    feed(breaker, "FFFF")  # the probes fail: OPEN for the second time
    assert breaker.state is OPEN
    assert breaker.rejection().retry_after == pytest.approx(7.5)
    clock.advance(7.4)
    assert not breaker.try_acquire()
    clock.advance(0.1)
    assert breaker.try_acquire()
    assert breaker.state is HALF_OPEN


def test_open_count_starts_over_after_closing(clock: FakeClock) -> None:
    breaker = small(clock, wait_in_open=lambda opened: 5.0 * opened)
    trip(breaker)
    clock.advance(5)
    feed(breaker, "SSSS")
    assert breaker.state is CLOSED
    trip(breaker)
    assert breaker.rejection().retry_after == pytest.approx(5.0)


def test_open_keeps_the_metrics_that_opened_it_and_late_results_never_change_state(
    clock: FakeClock,
) -> None:
    breaker = small(clock)
    feed(breaker, "SSF")
    assert breaker.try_acquire()  # in flight while the breaker opens
    feed(breaker, "F")
    assert breaker.state is OPEN
    assert breaker.metrics.failed_calls == 2
    assert breaker.metrics.failure_rate == 0.5
    breaker.on_error(RuntimeError("late"))  # the one in flight reports
    assert breaker.state is OPEN
    assert breaker.metrics.calls == 4
    assert breaker.metrics.failed_calls == 3  # recorded, the oldest success evicted


def test_ignore_is_checked_before_record_and_unmatched_errors_are_successes(
    clock: FakeClock,
) -> None:
    breaker = small(clock, record=(ValueError, KeyError), ignore=KeyError)
    seen: list[Event] = []
    breaker.subscribe(seen.append)
    for exc in (KeyError("ignored"), RuntimeError("neither")):
        assert breaker.try_acquire()
        breaker.on_error(exc)
    assert [e.kind for e in seen] == [EventKind.IGNORED_ERROR, EventKind.SUCCESS]
    assert breaker.metrics.calls == 1
    assert breaker.metrics.failed_calls == 0


def test_record_and_ignore_accept_predicates(clock: FakeClock) -> None:
    breaker = small(
        clock,
        record=lambda e: "fatal" in str(e),
        ignore=lambda e: isinstance(e, LookupError),
    )
    breaker.on_error(RuntimeError("fatal"))
    breaker.on_error(RuntimeError("meh"))
    breaker.on_error(KeyError("fatal"))
    assert breaker.metrics.calls == 2
    assert breaker.metrics.failed_calls == 1


def test_slow_means_strictly_longer_than_the_slow_call_duration(clock: FakeClock) -> None:
    breaker = small(clock, slow_call_duration=1.0, slow_call_rate=0.5)
    seen: list[Event] = []
    breaker.subscribe(seen.append)
    for duration in (1.0, 1.0, 1.5):
        breaker.on_success(duration)
    assert breaker.metrics.slow_calls == 1
    breaker.on_success(1.0001)
    assert breaker.state is OPEN  # 2 of 4 slow
    kinds = [e.kind for e in seen]
    assert EventKind.SLOW_CALL_RATE_EXCEEDED in kinds
    assert EventKind.FAILURE_RATE_EXCEEDED not in kinds


def test_disabled_records_nothing_and_admits_everything(clock: FakeClock) -> None:
    breaker = small(clock)
    seen: list[Event] = []
    breaker.subscribe(seen.append)
    breaker.transition_to(BreakerState.DISABLED)
    feed(breaker, "FFFFFFFF")
    assert breaker.state is BreakerState.DISABLED
    assert breaker.metrics.calls == 0
    assert [e.kind for e in seen] == [EventKind.STATE_TRANSITION]


def test_forced_open_rejects_forever(clock: FakeClock) -> None:
    breaker = small(clock)
    breaker.transition_to(BreakerState.FORCED_OPEN)
    clock.advance(10_000)
    assert not breaker.try_acquire()
    assert breaker.state is BreakerState.FORCED_OPEN
    assert breaker.metrics.not_permitted_calls == 1
    assert breaker.rejection().retry_after is None


def test_metrics_only_records_and_fires_each_exceeded_event_once(clock: FakeClock) -> None:
    breaker = small(clock, slow_call_duration=1.0, slow_call_rate=0.5)
    breaker.transition_to(BreakerState.METRICS_ONLY)
    seen: list[Event] = []
    breaker.subscribe(seen.append)
    for _ in range(10):
        assert breaker.try_acquire()
        breaker.on_error(RuntimeError(), 2.0)
    assert breaker.state is BreakerState.METRICS_ONLY
    kinds = [e.kind for e in seen]
    assert kinds.count(EventKind.FAILURE_RATE_EXCEEDED) == 1
    assert kinds.count(EventKind.SLOW_CALL_RATE_EXCEEDED) == 1
    assert breaker.metrics.failure_rate == 1.0


def test_closed_to_half_open_is_illegal_and_staying_put_is_silent(clock: FakeClock) -> None:
    from interlink.resilience import IllegalStateTransition

    breaker = small(clock)
    seen: list[Event] = []
    breaker.subscribe(seen.append)
    with pytest.raises(IllegalStateTransition, match="CLOSED to HALF_OPEN"):
        breaker.transition_to(HALF_OPEN)
    breaker.transition_to(CLOSED)
    assert seen == []
    breaker.transition_to(BreakerState.METRICS_ONLY)
    with pytest.raises(IllegalStateTransition):
        breaker.transition_to(OPEN)


def test_every_state_but_open_starts_with_fresh_metrics(clock: FakeClock) -> None:
    breaker = small(clock)
    feed(breaker, "FS")
    breaker.transition_to(OPEN)
    assert breaker.metrics.calls == 2  # OPEN keeps what CLOSED saw
    for state in (BreakerState.METRICS_ONLY, CLOSED, BreakerState.FORCED_OPEN):
        breaker.transition_to(state)
        assert breaker.metrics.calls == 0, state
        if state is not BreakerState.FORCED_OPEN:
            feed(breaker, "S")


def test_transition_and_reset_events(clock: FakeClock) -> None:
    breaker = small(clock)
    seen: list[Event] = []
    breaker.subscribe(seen.append)
    trip(breaker)
    breaker.reset()
    assert breaker.state is CLOSED
    transitions = [(e.from_state, e.to_state) for e in seen if e.kind == "STATE_TRANSITION"]
    assert transitions == [(CLOSED, OPEN), (OPEN, CLOSED)]
    assert seen[-1].kind is EventKind.RESET
    assert all(e.source == "breaker" and e.name == "payment" for e in seen)


def test_half_open_max_wait_moves_an_idle_half_open_lazily(clock: FakeClock) -> None:
    breaker = small(clock, half_open_max_wait=3.0, wait_in_open=5.0)
    trip(breaker)
    clock.advance(5)
    assert breaker.try_acquire()  # HALF_OPEN, one probe out that never reports
    clock.advance(3)
    assert not breaker.try_acquire()
    assert breaker.state is OPEN


async def test_half_open_max_wait_timer_moves_to_the_timeout_state(
    clock: FakeClock, until: Until
) -> None:
    breaker = small(clock, half_open_max_wait=3.0, half_open_timeout_state=CLOSED)
    trip(breaker)
    clock.advance(5)
    assert breaker.try_acquire()
    await until(lambda: clock.sleepers == 1)
    clock.advance(3)
    await until(lambda: breaker.state is CLOSED)


async def test_auto_half_open_moves_by_timer(clock: FakeClock, until: Until) -> None:
    breaker = small(clock, auto_half_open=True)
    trip(breaker)
    await until(lambda: clock.sleepers == 1)
    clock.advance(5)
    await until(lambda: breaker.state is HALF_OPEN)
    breaker.reset()


async def test_a_timer_from_an_old_state_does_nothing(clock: FakeClock, until: Until) -> None:
    breaker = small(clock, auto_half_open=True)
    trip(breaker)
    await until(lambda: clock.sleepers == 1)
    breaker.transition_to(BreakerState.FORCED_OPEN)
    clock.advance(5)
    for _ in range(5):
        await asyncio.sleep(0)
    assert breaker.state is BreakerState.FORCED_OPEN
    assert clock.sleepers == 0


async def test_call_records_outcomes_and_durations(clock: FakeClock, until: Until) -> None:
    breaker = small(clock, slow_call_duration=1.0)

    async def slow_ok() -> str:
        await clock.sleep(2)
        return "ok"

    task = asyncio.ensure_future(breaker.call(slow_ok))
    await until(lambda: clock.sleepers == 1)
    clock.advance(2)
    assert await task == "ok"

    async def fails() -> None:
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        await breaker.call(fails)
    metrics = breaker.metrics
    assert (metrics.calls, metrics.slow_calls, metrics.failed_calls) == (2, 1, 1)


async def test_cancellation_and_local_refusals_release_instead_of_recording(
    clock: FakeClock, until: Until
) -> None:
    breaker = small(clock, half_open_calls=1)
    trip(breaker)
    clock.advance(5)

    async def refused() -> None:
        raise BulkheadFull("inner bulkhead")

    with pytest.raises(BulkheadFull):
        await breaker.call(refused)
    assert breaker.state is HALF_OPEN
    assert breaker.metrics.calls == 0

    task = asyncio.ensure_future(breaker.call(clock.sleep, 100))
    await until(lambda: clock.sleepers == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.try_acquire()  # the probe came back


async def test_decorator_guards_every_call(clock: FakeClock) -> None:
    breaker = small(clock)

    @breaker
    async def double(x: int) -> int:
        return 2 * x

    assert await double(21) == 42
    assert double.__name__ == "double"
    breaker.transition_to(BreakerState.FORCED_OPEN)
    with pytest.raises(CallNotPermitted):
        await double(1)


def test_a_failing_listener_does_not_break_the_call(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = small(clock)

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    seen: list[Event] = []
    breaker.subscribe(broken)
    unsubscribe = breaker.subscribe(seen.append)
    feed(breaker, "S")
    assert len(seen) == 1
    assert "listener" in caplog.text
    unsubscribe()
    feed(breaker, "S")
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("failure_rate", 0.0),
        ("failure_rate", 1.5),
        ("slow_call_rate", -0.1),
        ("minimum_calls", 0),
        ("half_open_calls", 0),
        ("slow_call_duration", -1.0),
        ("half_open_max_wait", 0.0),
        ("half_open_timeout_state", BreakerState.DISABLED),
    ],
)
def test_arguments_are_checked(option: str, value: object) -> None:
    with pytest.raises(ValueError, match=option):
        CircuitBreaker(**{option: value})  # type: ignore[arg-type]


async def test_50_concurrent_calls_are_never_serialized() -> None:
    breaker = CircuitBreaker()

    async def slow() -> int:
        await asyncio.sleep(0.2)
        return 1

    started = time.monotonic()
    results = await asyncio.gather(*(breaker.call(slow) for _ in range(50)))
    elapsed = time.monotonic() - started
    assert sum(results) == 50
    assert elapsed < 0.35
    assert breaker.metrics.calls == 50


def test_initial_state_open_rejects_until_the_wait_is_over(clock: FakeClock) -> None:
    breaker = small(clock, initial_state=OPEN)
    assert not breaker.try_acquire()
    clock.advance(5)
    assert breaker.try_acquire()
    assert breaker.state is HALF_OPEN
