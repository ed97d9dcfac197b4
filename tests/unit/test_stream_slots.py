"""Slots, the bound on the gateway pool's exchanges: at most ``size`` holders, waiters served
in arrival order, and a waiter cancelled after it was handed a slot passes the slot on."""

from __future__ import annotations

import asyncio

import pytest

from interlink.transport.http._stream_pool import Slots


async def test_at_most_size_holders_and_waiters_served_in_order() -> None:
    slots = Slots(2)
    await slots.acquire()
    assert slots.take()
    assert not slots.take()
    order: list[int] = []

    async def wait(n: int) -> None:
        await slots.acquire()
        order.append(n)

    waiters = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0)  # each waiter queues (nothing to wait for: they run one step)
    assert (slots.waiting, order) == (3, [])
    slots.release()
    slots.release()
    await asyncio.sleep(0)
    assert order == [0, 1]
    slots.release()
    await asyncio.gather(*waiters)
    assert order == [0, 1, 2]
    assert (slots.free, slots.waiting) == (0, 0)


async def test_a_waiter_cancelled_before_its_turn_leaves_the_queue() -> None:
    slots = Slots(1)
    assert slots.take()
    waiter = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slots.waiting == 0
    slots.release()
    assert slots.free == 1


async def test_a_waiter_cancelled_after_it_was_handed_a_slot_passes_it_on() -> None:
    slots = Slots(1)
    assert slots.take()
    first = asyncio.create_task(slots.acquire())
    second = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    slots.release()  # handed to ``first``, which has not run yet
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 5)  # ``second`` holds the slot ``first`` gave up
    assert (slots.free, slots.waiting) == (0, 0)
    slots.release()
    assert slots.free == 1


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Slots(0)


def test_a_gateway_with_max_connections_below_one_is_refused() -> None:
    from interlink.gateway import Gateway

    with pytest.raises(ValueError, match="max_connections"):
        Gateway(max_connections=0)
