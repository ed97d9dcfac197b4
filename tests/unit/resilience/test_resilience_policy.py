"""Policy: the composition order, the deadline, and events from every member."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from interlink._clock import SYSTEM_CLOCK
from interlink._errors import ServiceUnavailable
from interlink.resilience import (
    AdaptiveThrottle,
    Backoff,
    BreakerState,
    Bulkhead,
    CallNotPermitted,
    CircuitBreaker,
    CountWindow,
    DeadlineExceeded,
    Fallback,
    Hedge,
    Policy,
    Retry,
    Timeout,
)
from interlink.resilience._events import Event, EventKind
from interlink.testing import FakeClock

Until = Callable[[Callable[[], bool]], Awaitable[None]]
Drive = Callable[[Awaitable[Any]], Awaitable[Any]]


def breaker(clock: FakeClock, **options: Any) -> CircuitBreaker:
    options = {"window": CountWindow(10), "minimum_calls": 10, "wait_in_open": 30.0} | options
    return CircuitBreaker(clock=clock, **options)


def retry(clock: FakeClock, attempts: int = 3) -> Retry:
    return Retry(attempts=attempts, backoff=Backoff.constant(1.0), on=Exception, clock=clock)


async def down() -> str:
    raise ServiceUnavailable("down")


async def test_execute_and_decorator_return_the_result(clock: FakeClock) -> None:
    policy = Policy(retry=retry(clock), breaker=breaker(clock), bulkhead=Bulkhead(clock=clock))

    async def add(a: int, b: int = 0) -> int:
        return a + b

    assert await policy.execute(add, 1, b=2) == 3
    assert await policy(add)(5) == 5
    assert await Policy().execute(add, 4) == 4


async def test_retry_is_outside_the_breaker_so_every_attempt_is_counted(
    clock: FakeClock, drive: Drive
) -> None:
    cb = breaker(clock)
    policy = Policy(retry=retry(clock), breaker=cb)
    with pytest.raises(ServiceUnavailable):
        await drive(policy.execute(down))
    assert cb.metrics.failed_calls == 3


async def test_retry_stops_at_once_when_the_breaker_opens(clock: FakeClock, drive: Drive) -> None:
    cb = breaker(clock, window=CountWindow(2), minimum_calls=2)
    attempts = 0

    async def counted() -> str:
        nonlocal attempts
        attempts += 1
        return await down()

    with pytest.raises(CallNotPermitted) as caught:
        await drive(Policy(retry=retry(clock, attempts=5), breaker=cb).execute(counted))
    assert attempts == 2  # the third attempt was refused and not retried
    assert caught.value.retry_after is not None


async def test_fallback_is_outermost_and_answers_for_an_open_breaker(clock: FakeClock) -> None:
    cb = breaker(clock, initial_state=BreakerState.FORCED_OPEN)
    policy = Policy(fallback=Fallback(value="cached answer", clock=clock), breaker=cb)
    assert await policy.execute(down) == "cached answer"


async def test_timeouts_count_as_breaker_failures(clock: FakeClock, until: Until) -> None:
    cb = breaker(clock)
    policy = Policy(breaker=cb, timeout=Timeout(1.0, clock=clock))
    task = asyncio.ensure_future(policy.execute(asyncio.Event().wait))
    await until(lambda: clock.sleepers == 1)
    clock.advance(1.0)
    with pytest.raises(DeadlineExceeded):
        await task
    assert cb.metrics.failed_calls == 1


async def test_the_timeout_covers_the_wait_for_a_bulkhead_slot(
    clock: FakeClock, until: Until
) -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_queue=1, clock=clock)
    policy = Policy(timeout=1.0, bulkhead=bulkhead, clock=clock)
    assert bulkhead.try_acquire()
    task = asyncio.ensure_future(policy.execute(asyncio.sleep, 0))
    await until(lambda: bulkhead.queued == 1)
    clock.advance(1.0)
    with pytest.raises(DeadlineExceeded):
        await task
    assert bulkhead.queued == 0


async def test_a_throttle_refusal_is_not_a_breaker_failure(clock: FakeClock) -> None:
    cb = breaker(clock)
    throttle = AdaptiveThrottle(k=1.0, random=lambda: 0.0, clock=clock)
    policy = Policy(breaker=cb, throttle=throttle)
    with pytest.raises(ServiceUnavailable):
        await policy.execute(down)
    with pytest.raises(CallNotPermitted, match="throttle"):
        await policy.execute(down)
    assert cb.metrics.calls == 1


async def test_a_bulkhead_refusal_is_not_a_breaker_failure(clock: FakeClock) -> None:
    cb = breaker(clock)
    bulkhead = Bulkhead(max_concurrent=1, clock=clock)
    assert bulkhead.try_acquire()
    with pytest.raises(Exception, match="full"):
        await Policy(breaker=cb, bulkhead=bulkhead).execute(down)
    assert cb.metrics.calls == 0


async def test_the_deadline_bounds_the_whole_operation_including_backoff(
    clock: FakeClock, drive: Drive
) -> None:
    seen: list[Event] = []
    policy = Policy(deadline=2.5, retry=retry(clock, attempts=10), timeout=10.0, clock=clock)
    policy.subscribe(seen.append)
    started = 0

    async def hangs_after_two_failures() -> None:
        nonlocal started
        started += 1
        if started <= 2:
            raise ServiceUnavailable("down")
        await asyncio.Event().wait()

    with pytest.raises(DeadlineExceeded):
        await drive(policy.execute(hangs_after_two_failures))
    assert clock.monotonic() == 2.5
    assert started == 3
    assert EventKind.DEADLINE_EXCEEDED in [e.kind for e in seen]


async def test_the_deadline_alone_bounds_an_attempt(clock: FakeClock, until: Until) -> None:
    policy = Policy(deadline=2.0, clock=clock)
    task = asyncio.ensure_future(policy.execute(asyncio.Event().wait))
    await until(lambda: clock.sleepers == 1)
    clock.advance(2.0)
    with pytest.raises(DeadlineExceeded):
        await task


async def test_execute_with_deadline_hands_each_attempt_its_deadline(clock: FakeClock) -> None:
    policy = Policy(deadline=10.0, timeout=3.0, clock=clock)
    seen: list[float | None] = []

    async def attempt(deadline: float | None, x: int) -> int:
        seen.append(deadline)
        return x

    assert await policy.execute_with_deadline(None, attempt, 1) == 1
    assert await policy.execute_with_deadline(2.0, attempt, 2) == 2
    assert seen == [3.0, 2.0]  # min(own deadline 10, timeout 3), then the caller's 2
    assert policy.remaining(2.0) == 2.0
    clock.advance(5)
    assert policy.remaining(2.0) == 0.0
    assert policy.remaining(None) is None


async def test_a_past_deadline_is_refused_without_calling(clock: FakeClock) -> None:
    called = False

    async def attempt(deadline: float | None) -> None:
        nonlocal called
        called = True

    clock.advance(5)
    with pytest.raises(DeadlineExceeded):
        await Policy(clock=clock).execute_with_deadline(4.0, attempt)
    assert not called


async def test_hedge_takes_the_place_of_retry(clock: FakeClock, drive: Drive) -> None:
    answers = iter([ServiceUnavailable("down"), "ok"])

    async def call() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    policy = Policy(hedge=Hedge(delay=1.0, clock=clock), breaker=breaker(clock))
    assert await drive(policy.execute(call)) == "ok"


async def test_subscribe_hears_every_member_and_unsubscribes_from_all(
    clock: FakeClock, drive: Drive
) -> None:
    seen: list[Event] = []
    policy = Policy(
        fallback=Fallback(value="fallback", clock=clock),
        retry=retry(clock, attempts=2),
        breaker=breaker(clock),
        clock=clock,
    )
    unsubscribe = policy.subscribe(seen.append)
    assert await drive(policy.execute(down)) == "fallback"
    sources = {(e.source, e.kind) for e in seen}
    assert ("retry", EventKind.RETRY) in sources
    assert ("breaker", EventKind.ERROR) in sources
    assert ("fallback", EventKind.FALLBACK) in sources
    unsubscribe()
    seen.clear()
    await drive(policy.execute(down))
    assert seen == []


def test_policy_arguments_are_checked(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="retry= or hedge="):
        Policy(retry=retry(clock), hedge=Hedge(delay=1, clock=clock))
    with pytest.raises(ValueError, match="same clock"):
        Policy(retry=retry(clock), breaker=CircuitBreaker())
    with pytest.raises(ValueError, match="same clock"):
        Policy(retry=retry(clock), clock=SYSTEM_CLOCK)
    with pytest.raises(TypeError, match="breaker must be a CircuitBreaker"):
        Policy(breaker=retry(clock))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="deadline"):
        Policy(deadline=0)
    assert Policy(retry=retry(clock)).clock is clock  # taken from the members
    assert "Timeout(2.0)" in repr(Policy(timeout=2.0))


async def test_every_policy_together_on_the_success_path(clock: FakeClock) -> None:
    policy = Policy(
        deadline=5.0,
        fallback=Fallback(value=None, clock=clock),
        retry=Retry(attempts=3, on=ServiceUnavailable, clock=clock),
        breaker=breaker(clock),
        throttle=AdaptiveThrottle(clock=clock),
        timeout=1.0,
        bulkhead=Bulkhead(max_concurrent=10, clock=clock),
    )

    @policy
    async def quote(sku: str) -> str:
        return f"price of {sku}"

    assert await quote("apple") == "price of apple"
    assert policy.breaker is not None
    assert policy.breaker.metrics.calls == 1
    assert "Policy(fallback=" in repr(policy)
