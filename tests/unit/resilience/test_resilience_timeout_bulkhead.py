"""Timeout (fake clock and real clock paths) and Bulkhead."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from interlink.resilience import Bulkhead, BulkheadFull, DeadlineExceeded, Timeout
from interlink.resilience._events import Event, EventKind
from interlink.testing import FakeClock

Until = Callable[[Callable[[], bool]], Awaitable[None]]


async def test_timeout_cancels_a_slow_attempt_on_the_fake_clock(
    clock: FakeClock, until: Until
) -> None:
    timeout = Timeout(2.0, clock=clock)
    seen: list[Event] = []
    timeout.subscribe(seen.append)
    cancelled = asyncio.Event()

    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    task = asyncio.ensure_future(timeout.call(hang))
    await until(lambda: clock.sleepers == 1)
    clock.advance(1.9)
    await asyncio.sleep(0)
    assert not task.done()
    clock.advance(0.1)
    with pytest.raises(DeadlineExceeded, match="timed out"):
        await task
    assert cancelled.is_set()  # the attempt unwound before the error was raised
    assert [e.kind for e in seen] == [EventKind.TIMEOUT]


async def test_timeout_returns_the_result_and_leaves_no_timer(
    clock: FakeClock, until: Until
) -> None:
    async def quick() -> int:
        return 7

    assert await Timeout(timedelta(seconds=1), clock=clock).call(quick) == 7
    await until(lambda: clock.sleepers == 0)


async def test_timeout_on_the_real_clock_raises_deadline_exceeded() -> None:
    # A nanosecond timeout expires on the loop's next turn: no real waiting.
    with pytest.raises(DeadlineExceeded) as caught:
        await Timeout(1e-9).call(asyncio.Event().wait)
    assert isinstance(caught.value, TimeoutError)


async def test_a_timeout_error_raised_by_the_call_itself_is_not_ours() -> None:
    async def own_timeout() -> None:
        raise TimeoutError("socket")

    with pytest.raises(TimeoutError, match="socket") as caught:
        await Timeout(60).call(own_timeout)
    assert not isinstance(caught.value, DeadlineExceeded)


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="Timeout"):
        Timeout(0)


def test_bulkhead_of_two_permits_twice_rejects_then_permits_after_a_release() -> None:
    bulkhead = Bulkhead(max_concurrent=2)
    assert bulkhead.try_acquire()
    assert bulkhead.try_acquire()
    assert not bulkhead.try_acquire()
    bulkhead.release()
    assert bulkhead.try_acquire()


async def test_full_bulkhead_without_a_queue_rejects_at_once(
    clock: FakeClock, until: Until
) -> None:
    bulkhead = Bulkhead(max_concurrent=1, clock=clock, name="db")
    seen: list[Event] = []
    bulkhead.subscribe(seen.append)
    holder = asyncio.ensure_future(bulkhead.call(clock.sleep, 5))
    await until(lambda: bulkhead.active == 1)
    with pytest.raises(BulkheadFull, match="'db'") as caught:
        await bulkhead.call(clock.sleep, 5)
    assert caught.value.not_processed
    assert [e.kind for e in seen] == [EventKind.BULKHEAD_FULL]
    clock.advance(5)
    await holder
    assert bulkhead.active == 0


async def test_queued_callers_get_slots_in_order_and_extra_callers_are_refused(
    clock: FakeClock, until: Until
) -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_queue=2, clock=clock)
    order: list[int] = []
    gate = asyncio.Event()

    async def work(n: int) -> None:
        order.append(n)
        await gate.wait()

    tasks = [asyncio.ensure_future(bulkhead.call(work, n)) for n in range(3)]
    await until(lambda: bulkhead.queued == 2)
    with pytest.raises(BulkheadFull):
        await bulkhead.call(work, 99)
    gate.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]
    assert (bulkhead.active, bulkhead.queued) == (0, 0)


async def test_a_queued_caller_waits_at_most_max_queue_wait(clock: FakeClock, until: Until) -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_queue=1, max_queue_wait=2.0, clock=clock)
    assert bulkhead.try_acquire()
    waiter = asyncio.ensure_future(bulkhead.acquire())
    await until(lambda: clock.sleepers == 1)
    clock.advance(2.0)
    with pytest.raises(BulkheadFull, match="allowed wait"):
        await waiter
    assert bulkhead.queued == 0
    bulkhead.release()
    assert bulkhead.active == 0


async def test_a_queued_caller_waits_no_longer_than_the_deadline(
    clock: FakeClock, until: Until
) -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_queue=1, clock=clock)
    assert bulkhead.try_acquire()
    waiter = asyncio.ensure_future(bulkhead.acquire(deadline=1.0))
    await until(lambda: clock.sleepers == 1)
    clock.advance(1.0)
    with pytest.raises(BulkheadFull):
        await waiter


async def test_a_cancelled_waiter_passes_on_a_slot_it_was_handed(until: Until) -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_queue=2)
    assert bulkhead.try_acquire()
    first = asyncio.ensure_future(bulkhead.acquire())
    second = asyncio.ensure_future(bulkhead.acquire())
    await until(lambda: bulkhead.queued == 2)
    bulkhead.release()  # handed to `first`...
    first.cancel()  # ...which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await first
    await second  # so the slot went on to `second`
    assert (bulkhead.active, bulkhead.queued) == (1, 0)


async def test_a_cancelled_waiter_leaves_the_queue(until: Until) -> None:
    bulkhead = Bulkhead(max_concurrent=1, max_queue=1)
    assert bulkhead.try_acquire()
    waiter = asyncio.ensure_future(bulkhead.acquire())
    await until(lambda: bulkhead.queued == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bulkhead.queued == 0
    bulkhead.release()
    assert bulkhead.try_acquire()


@pytest.mark.parametrize(
    ("option", "value"), [("max_concurrent", 0), ("max_queue", -1), ("max_queue_wait", -1.0)]
)
def test_bulkhead_arguments_are_checked(option: str, value: object) -> None:
    with pytest.raises(ValueError, match=option):
        Bulkhead(**{option: value})  # type: ignore[arg-type]


async def test_cancelling_a_timed_call_cancels_the_attempt(clock: FakeClock, until: Until) -> None:
    cancelled = asyncio.Event()

    async def hang() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    task = asyncio.ensure_future(Timeout(10, clock=clock).call(hang))
    await until(lambda: clock.sleepers == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(cancelled.is_set)
    await until(lambda: clock.sleepers == 0)
