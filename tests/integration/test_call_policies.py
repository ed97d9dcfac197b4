"""Resilience on every ctx.call: the App's policies, safe retries, per-target breakers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

import interlink as il
from interlink.resilience import (
    BreakerState,
    CircuitBreaker,
    CountWindow,
    Fallback,
    Policy,
    Retry,
)
from interlink.resilience._events import Event, EventKind
from interlink.testing import FakeClock, TestApp
from tests.conftest import free_port

hits: Counter[str] = Counter()
backend = il.Service("backend")


@backend.rpc
async def unsafe_boom(req: dict[str, int]) -> int:
    hits["unsafe_boom"] += 1
    raise RuntimeError("half done")


@backend.rpc(idempotent=True)
async def safe_boom(req: dict[str, int]) -> int:
    hits["safe_boom"] += 1
    raise RuntimeError("nothing done")


@backend.rpc
async def declared_retryable(req: dict[str, int]) -> int:
    hits["declared_retryable"] += 1
    if hits["declared_retryable"] < 2:
        raise il.ApplicationError("try again", status=503, type="Busy", retryable=True)
    return 7


@backend.rpc(idempotent=True)
async def rejects(req: dict[str, int]) -> int:
    hits["rejects"] += 1
    raise il.ApplicationError("bad input", status=400)


@backend.rpc
async def deadline_seen(req: dict[str, int], ctx: il.Context) -> float:
    assert ctx.deadline is not None
    return ctx.deadline


@backend.rpc
async def answer(req: dict[str, int]) -> int:
    return 42


other = il.Service("other")


@other.rpc
async def fine(req: dict[str, int]) -> int:
    return 1


@pytest.fixture(autouse=True)
def reset_hits() -> None:
    hits.clear()


async def test_a_non_idempotent_handler_is_not_retried_after_it_ran() -> None:
    async with TestApp(il.App([backend])) as t:
        with pytest.raises(il.RemoteError) as info:
            await t.call(unsafe_boom, {})
    assert hits["unsafe_boom"] == 1
    assert info.value.non_retryable is True


async def test_an_idempotent_handler_is_retried_up_to_the_attempts() -> None:
    async with TestApp(il.App([backend])) as t:
        with pytest.raises(il.RemoteError):
            await t.call(safe_boom, {})
        with pytest.raises(il.RemoteError):
            await t.call("backend.safe_boom", {})  # known locally, so known idempotent
    assert hits["safe_boom"] == 6


async def test_a_failure_the_callee_declares_retryable_is_retried() -> None:
    async with TestApp(il.App([backend])) as t:
        assert await t.call(declared_retryable, {}) == 7
    assert hits["declared_retryable"] == 2


async def test_client_errors_are_neither_retried_nor_held_against_the_callee() -> None:
    async with TestApp(il.App([backend])) as t:
        for _ in range(30):
            with pytest.raises(il.RemoteError):
                await t.call(rejects, {})
        policy = t.app.runtime.policies.for_service("backend")
        assert policy is not None
        assert policy.breaker is not None
        assert policy.breaker.state is BreakerState.CLOSED
        assert policy.breaker.metrics.failed_calls == 0
    assert hits["rejects"] == 30


async def test_a_refused_connection_is_retried_on_another_instance() -> None:
    dead = free_port()
    server = il.App([backend], port=0)
    async with server:
        live = server.url.rsplit(":", 1)[1]
        registry = f"static:backend=127.0.0.1:{dead},backend=127.0.0.1:{live}"
        async with il.App([il.Service("caller")], registry=registry, serve_http=False) as caller:
            answers = [await caller.call(answer, {}) for _ in range(6)]
    assert answers == [42] * 6


async def test_each_target_gets_its_own_breaker_and_an_open_one_fails_fast() -> None:
    clock = FakeClock()
    tight = Policy(
        breaker=CircuitBreaker(
            window=CountWindow(4), minimum_calls=4, wait_in_open=30.0, clock=clock, name="backend"
        ),
        clock=clock,
    )
    app = il.App([backend, other], policies={"backend": tight}, clock=clock)
    async with TestApp(app) as t:
        for _ in range(4):
            with pytest.raises(il.RemoteError):
                await t.call(unsafe_boom, {})
        assert tight.breaker is not None
        assert tight.breaker.state is BreakerState.OPEN
        with pytest.raises(il.CallNotPermitted) as info:
            await t.call(unsafe_boom, {})
        assert info.value.retry_after == pytest.approx(30.0)
        assert hits["unsafe_boom"] == 4  # the open breaker never reached the handler
        assert await t.call(fine, {}) == 1  # another target is unaffected
        clock.advance(30.0)
        with pytest.raises(il.RemoteError):
            await t.call(unsafe_boom, {})  # half-open: a probe goes through
        assert hits["unsafe_boom"] == 5


async def test_a_per_call_policy_replaces_the_apps() -> None:
    degraded = Policy(fallback=Fallback(value=-1))
    async with TestApp(il.App([backend])) as t:
        assert await t.call(unsafe_boom, {}, policy=degraded) == -1
        with pytest.raises(il.RemoteError):
            await t.call(unsafe_boom, {})


async def test_fallback_to_another_method_goes_through_the_app() -> None:
    policy = Policy(fallback=Fallback(to="backend.answer"))
    async with TestApp(il.App([backend], policies={"backend": policy})) as t:
        assert await t.call(unsafe_boom, {}) == 42


async def test_the_policy_deadline_is_what_the_next_hop_gets() -> None:
    policy = Policy(deadline=2.0, retry=Retry(attempts=2, on=il.CallError))
    async with TestApp(il.App([backend], policies={"backend": policy})) as t:
        before = time.time()
        seen = await t.call(deadline_seen, {})
        assert before + 1.9 <= seen <= time.time() + 2.0
        ctx = t.app.context()
        ctx.deadline = time.time() + 0.5  # a tighter caller deadline wins
        assert await ctx.call(deadline_seen, {}) <= ctx.deadline


async def test_default_policy_gives_every_call_a_deadline() -> None:
    async with TestApp(il.App([backend])) as t:
        before = time.time()
        seen = await t.call(deadline_seen, {})
    assert before + 29 <= seen <= time.time() + 30


async def test_without_a_policy_nothing_is_retried_and_no_deadline_is_added() -> None:
    async with TestApp(il.App([backend], default_policy=None)) as t:
        with pytest.raises(il.RemoteError):
            await t.call(safe_boom, {})
        with pytest.raises(il.RemoteError) as info:
            await t.call(deadline_seen, {})  # the handler asserts that it has a deadline
    assert info.value.remote_type == "AssertionError"
    assert hits["safe_boom"] == 1


async def test_policy_events_reach_the_apps_listeners() -> None:
    events: list[Event] = []
    async with TestApp(il.App([backend], policy_listeners=[events.append])) as t:
        with pytest.raises(il.RemoteError):
            await t.call(safe_boom, {})
    kinds = Counter(e.kind for e in events)
    assert kinds[EventKind.RETRY] == 2
    assert kinds[EventKind.ERROR] == 3
    assert kinds[EventKind.RETRIES_EXHAUSTED] == 1


async def test_fifty_concurrent_calls_through_one_breaker_are_not_serialized() -> None:
    slow = il.Service("slow")

    @slow.rpc
    async def nap(req: dict[str, Any]) -> None:
        await asyncio.sleep(0.2)

    async with TestApp(il.App([slow])) as t:
        started = time.monotonic()
        await asyncio.gather(*(t.call(nap, {}) for _ in range(50)))
        assert time.monotonic() - started < 0.5
