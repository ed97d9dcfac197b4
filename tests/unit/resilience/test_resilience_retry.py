"""Retry and RetryBudget, on the fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from interlink._errors import ServiceUnavailable
from interlink.resilience import (
    Backoff,
    BulkheadFull,
    CallNotPermitted,
    DeadlineExceeded,
    Policy,
    Retry,
    RetryBudget,
)
from interlink.resilience._events import Event, EventKind
from interlink.testing import FakeClock

Drive = Callable[[Awaitable[Any]], Awaitable[Any]]


class Flaky:
    """Fails with the given errors, in order, then returns "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def retry(clock: FakeClock, **options: Any) -> Retry:
    options.setdefault("backoff", Backoff.constant(1.0))
    options.setdefault("on", ServiceUnavailable)
    return Retry(clock=clock, **options)


async def test_retries_matching_errors_with_backoff_until_success(
    clock: FakeClock, drive: Drive
) -> None:
    flaky = Flaky(ServiceUnavailable("a"), ServiceUnavailable("b"))
    seen: list[Event] = []
    policy = retry(clock, attempts=3)
    policy.subscribe(seen.append)
    assert await drive(policy.call(flaky)) == "ok"
    assert flaky.calls == 3
    assert clock.monotonic() == 2.0
    assert [(e.kind, e.attempt, e.delay) for e in seen] == [
        (EventKind.RETRY, 2, 1.0),
        (EventKind.RETRY, 3, 1.0),
    ]


async def test_raises_the_last_error_when_attempts_run_out(clock: FakeClock, drive: Drive) -> None:
    errors = [ServiceUnavailable(str(i)) for i in range(3)]
    flaky = Flaky(*errors)
    seen: list[Event] = []
    policy = retry(clock, attempts=3)
    policy.subscribe(seen.append)
    with pytest.raises(ServiceUnavailable) as caught:
        await drive(policy.call(flaky))
    assert caught.value is errors[-1]
    assert flaky.calls == 3
    assert seen[-1].kind is EventKind.RETRIES_EXHAUSTED


async def test_errors_not_matching_on_are_raised_at_once(clock: FakeClock, drive: Drive) -> None:
    flaky = Flaky(ValueError("bug"))
    with pytest.raises(ValueError, match="bug"):
        await retry(clock).call(flaky)
    assert flaky.calls == 1


async def test_on_accepts_a_predicate(clock: FakeClock, drive: Drive) -> None:
    flaky = Flaky(RuntimeError("transient"), RuntimeError("fatal"))
    policy = retry(clock, on=lambda e: "transient" in str(e))
    with pytest.raises(RuntimeError, match="fatal"):
        await drive(policy.call(flaky))
    assert flaky.calls == 2


@pytest.mark.parametrize(
    "error",
    [CallNotPermitted("open"), BulkheadFull("full"), DeadlineExceeded("late")],
)
async def test_never_retries_local_refusals_or_deadlines(
    clock: FakeClock, error: Exception
) -> None:
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        await retry(clock, on=Exception).call(flaky)
    assert flaky.calls == 1


async def test_never_retries_cancellation(clock: FakeClock, drive: Drive) -> None:
    flaky = Flaky(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await retry(clock, on=BaseException).call(flaky)
    assert flaky.calls == 1


async def test_honours_retry_after_when_longer_than_the_backoff(
    clock: FakeClock, drive: Drive
) -> None:
    slow_down = ServiceUnavailable("busy")
    slow_down.retry_after = 7.0
    flaky = Flaky(slow_down)
    assert await drive(retry(clock).call(flaky)) == "ok"
    assert clock.monotonic() == 7.0


async def test_on_result_retries_unwanted_results_and_returns_the_last(
    clock: FakeClock, drive: Drive
) -> None:
    answers = iter(["pending", "pending", "pending"])

    async def poll() -> str:
        return next(answers)

    policy = retry(clock, attempts=3, on_result=lambda r: r == "pending")
    assert await drive(policy.call(poll)) == "pending"
    assert clock.monotonic() == 2.0


async def test_never_sleeps_past_the_deadline(clock: FakeClock, drive: Drive) -> None:
    flaky = Flaky(ServiceUnavailable("a"), ServiceUnavailable("b"))
    policy = Policy(deadline=1.5, retry=retry(clock, attempts=5))
    with pytest.raises(ServiceUnavailable, match="b"):
        await drive(policy.execute(flaky))
    assert flaky.calls == 2  # 0 s, then 1 s; a third at 2 s would be past 1.5 s
    assert clock.monotonic() == 1.0


async def test_retry_decorator(clock: FakeClock, drive: Drive) -> None:
    policy = retry(clock)
    flaky = Flaky(ServiceUnavailable("a"))

    @policy
    async def fetch() -> str:
        return await flaky()

    assert await drive(fetch()) == "ok"


def test_retry_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="attempts"):
        Retry(attempts=0, on=Exception)
    with pytest.raises(TypeError, match="on"):
        Retry(on=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Retry()  # type: ignore[call-arg]  # `on` has no default: the caller chooses


def test_budget_allows_the_reserve_then_its_ratio_of_requests(clock: FakeClock) -> None:
    budget = RetryBudget(ratio=0.5, min_per_second=0.2, ttl=10, clock=clock)
    assert budget.try_withdraw()  # reserve: 0.2/s over 10 s = 2 retries
    assert budget.try_withdraw()
    assert not budget.try_withdraw()
    for _ in range(4):
        budget.deposit()  # 4 requests * 0.5 = 2 more
    assert budget.try_withdraw()
    assert budget.try_withdraw()
    assert not budget.try_withdraw()
    clock.advance(10)  # everything slid out of the window
    assert budget.available == 2.0


async def test_retry_stops_when_the_budget_is_spent(clock: FakeClock, drive: Drive) -> None:
    budget = RetryBudget(ratio=0.1, min_per_second=0.1, ttl=10, clock=clock)
    seen: list[Event] = []
    policy = retry(clock, attempts=5, budget=budget)
    policy.subscribe(seen.append)
    flaky = Flaky(*[ServiceUnavailable(str(i)) for i in range(5)])
    with pytest.raises(ServiceUnavailable, match="1"):
        await drive(policy.call(flaky))
    # one request deposits 0.1, the reserve holds 1: one retry, then the budget is spent
    assert flaky.calls == 2
    assert seen[-1].kind is EventKind.RETRY_BUDGET_EXHAUSTED


def test_budget_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="ratio"):
        RetryBudget(ratio=0)
    with pytest.raises(ValueError, match="min_per_second"):
        RetryBudget(min_per_second=-1)
    with pytest.raises(ValueError, match="ttl"):
        RetryBudget(ttl=0.5)
