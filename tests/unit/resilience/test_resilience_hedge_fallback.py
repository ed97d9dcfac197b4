"""Hedge and Fallback."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from interlink._errors import ConfigurationError, ServiceUnavailable
from interlink.resilience import Fallback, Hedge
from interlink.resilience._events import Event, EventKind
from interlink.testing import FakeClock

Until = Callable[[Callable[[], bool]], Awaitable[None]]


class Replica:
    """Each call takes the next (delay, outcome) from a script, on the fake clock."""

    def __init__(self, clock: FakeClock, *script: tuple[float, Any]) -> None:
        self.clock = clock
        self.script = list(script)
        self.started = 0
        self.cancelled = 0

    async def __call__(self) -> Any:
        delay, outcome = self.script[self.started]
        self.started += 1
        try:
            await self.clock.sleep(delay)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


async def test_a_fast_answer_sends_no_hedge(clock: FakeClock, until: Until) -> None:
    replica = Replica(clock, (1.0, "first"))
    task = asyncio.ensure_future(Hedge(delay=2.0, clock=clock).call(replica))
    await until(lambda: clock.sleepers == 2)  # the call and the hedge timer
    clock.advance(1.0)
    assert await task == "first"
    assert replica.started == 1
    await until(lambda: clock.sleepers == 0)


async def test_a_slow_call_is_hedged_and_the_first_good_answer_wins(
    clock: FakeClock, until: Until
) -> None:
    replica = Replica(clock, (10.0, "slow"), (1.0, "hedged"))
    hedge = Hedge(delay=2.0, clock=clock)
    seen: list[Event] = []
    hedge.subscribe(seen.append)
    task = asyncio.ensure_future(hedge.call(replica))
    await until(lambda: clock.sleepers == 2)
    clock.advance(2.0)
    await until(lambda: replica.started == 2)
    clock.advance(1.0)
    assert await task == "hedged"
    assert replica.cancelled == 1  # the slow one was cancelled, and has unwound
    assert [(e.kind, e.attempt) for e in seen] == [(EventKind.HEDGE, 2)]


async def test_a_failed_attempt_starts_the_next_hedge_at_once(
    clock: FakeClock, until: Until
) -> None:
    replica = Replica(clock, (0.5, ServiceUnavailable("down")), (0.5, "second"))
    task = asyncio.ensure_future(Hedge(delay=5.0, clock=clock).call(replica))
    await until(lambda: clock.sleepers == 2)
    clock.advance(0.5)
    await until(lambda: replica.started == 2)
    clock.advance(0.5)
    assert await task == "second"
    assert clock.monotonic() == 1.0


async def test_when_every_attempt_fails_the_last_error_is_raised(
    clock: FakeClock, drive: Callable[[Awaitable[Any]], Awaitable[Any]]
) -> None:
    replica = Replica(clock, (1.0, ServiceUnavailable("a")), (1.0, ServiceUnavailable("b")))
    with pytest.raises(ServiceUnavailable, match="b"):
        await drive(Hedge(delay=0.5, clock=clock).call(replica))
    assert replica.started == 2


async def test_max_hedges_bounds_the_extra_attempts(
    clock: FakeClock, drive: Callable[[Awaitable[Any]], Awaitable[Any]]
) -> None:
    replica = Replica(clock, (10.0, "a"), (10.0, "b"), (10.0, "c"), (0.1, "never"))
    assert await drive(Hedge(max_hedges=2, delay=1.0, clock=clock).call(replica)) == "a"
    assert replica.started == 3


def test_hedge_needs_a_delay_and_at_least_one_hedge() -> None:
    with pytest.raises(TypeError):
        Hedge()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="max_hedges"):
        Hedge(max_hedges=0, delay=1.0)


async def fail(*args: Any, **kwargs: Any) -> str:
    raise ServiceUnavailable("down")


async def test_fallback_value_including_none() -> None:
    assert await Fallback(value="default").call(fail) == "default"
    assert await Fallback(value=None).call(fail) is None


async def test_fallback_func_computes_a_degraded_answer_from_the_error_and_arguments() -> None:
    def degrade(exc: Exception, sku: str, *, qty: int) -> str:
        return f"{sku}x{qty} unavailable: {exc}"

    async def degrade_async(exc: Exception, sku: str, *, qty: int) -> str:
        return "async " + degrade(exc, sku, qty=qty)

    assert await Fallback(func=degrade).call(fail, "apple", qty=2) == "applex2 unavailable: down"
    assert (await Fallback(func=degrade_async).call(fail, "pear", qty=1)).startswith("async")


async def test_fallback_only_catches_matching_errors() -> None:
    async def bug() -> None:
        raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        await Fallback(value=0, on=ServiceUnavailable).call(bug)


async def test_fallback_does_not_catch_cancellation() -> None:
    async def cancelled() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await Fallback(value=0).call(cancelled)


async def test_cached_returns_the_last_good_answer_per_request_within_ttl(
    clock: FakeClock,
) -> None:
    fallback = Fallback(cached=60.0, value="stale-free default", clock=clock)
    healthy = True

    async def price(sku: str) -> str:
        if not healthy:
            raise ServiceUnavailable("down")
        return f"price of {sku} at {clock.monotonic():g}"

    assert await fallback.call(price, "apple") == "price of apple at 0"
    healthy = False
    clock.advance(59)
    assert await fallback.call(price, "apple") == "price of apple at 0"
    assert await fallback.call(price, "pear") == "stale-free default"  # another key
    clock.advance(1)
    assert await fallback.call(price, "apple") == "stale-free default"  # expired


async def test_cached_alone_reraises_on_a_miss(clock: FakeClock) -> None:
    with pytest.raises(ServiceUnavailable):
        await Fallback(cached=10, clock=clock).call(fail, "x")


async def test_cached_needs_hashable_arguments_or_a_key(clock: FakeClock) -> None:
    async def ok(body: dict[str, int]) -> int:
        return body["n"]

    with pytest.raises(TypeError, match="key="):
        await Fallback(cached=10, clock=clock).call(ok, {"n": 1})
    keyed = Fallback(cached=10, key=lambda body: body["n"], clock=clock)
    assert await keyed.call(ok, {"n": 1}) == 1


async def test_cached_keeps_at_most_max_entries(clock: FakeClock) -> None:
    fallback = Fallback(cached=100, max_entries=2, clock=clock)

    async def echo(n: int) -> int:
        return n

    for n in (1, 2, 3):
        await fallback.call(echo, n)
    with pytest.raises(ServiceUnavailable):
        await fallback.call(fail, 1)  # evicted, oldest first
    assert await fallback.call(fail, 3) == 3


async def test_to_sends_the_same_arguments_to_another_service_through_the_invoker() -> None:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def invoke(target: str, *args: Any, **kwargs: Any) -> str:
        calls.append((target, args, kwargs))
        return "from backup"

    fallback = Fallback(to="pricing-backup.quote")
    with pytest.raises(ConfigurationError, match="invoker"):
        await fallback.call(fail, "apple", qty=1)
    fallback.set_invoker(invoke)
    assert await fallback.call(fail, "apple", qty=1) == "from backup"
    assert calls == [("pricing-backup.quote", ("apple",), {"qty": 1})]
    assert await Fallback(to="a.b", invoker=invoke).call(fail) == "from backup"


async def test_fallback_emits_an_event_with_the_error() -> None:
    fallback = Fallback(value=1, name="prices")
    seen: list[Event] = []
    fallback.subscribe(seen.append)
    await fallback.call(fail)
    assert [(e.kind, e.source, e.name) for e in seen] == [
        (EventKind.FALLBACK, "fallback", "prices")
    ]
    assert isinstance(seen[0].error, ServiceUnavailable)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs"),
        ({"value": 1, "func": str}, "at most one"),
        ({"to": "nodot"}, "service.method"),
        ({"cached": 0}, "cached"),
        ({"value": 1, "max_entries": 0}, "max_entries"),
    ],
)
def test_fallback_arguments_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fallback(**options)


async def test_cancelling_a_hedged_call_cancels_every_copy(clock: FakeClock, until: Until) -> None:
    replica = Replica(clock, (10.0, "a"), (10.0, "b"))
    task = asyncio.ensure_future(Hedge(delay=1.0, clock=clock).call(replica))
    await until(lambda: clock.sleepers == 2)
    clock.advance(1.0)
    await until(lambda: replica.started == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert replica.cancelled == 2
