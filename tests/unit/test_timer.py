"""Coarse deadlines (``interlink._timer``): exact below a second, a shared wheel from a second
up that fires never early and at most 1% late, with ``asyncio.timeout``'s semantics."""

from __future__ import annotations

import asyncio

import pytest

from interlink._timer import COARSE_FROM, CoarseTimeout, timeout_after


async def test_short_delays_get_an_exact_timer_and_long_ones_the_wheel() -> None:
    assert isinstance(timeout_after(COARSE_FROM / 2), asyncio.Timeout)
    assert isinstance(timeout_after(COARSE_FROM), CoarseTimeout)


@pytest.mark.parametrize("delay", [1.0, 1.3])
async def test_a_coarse_deadline_fires_never_early_and_at_most_one_percent_late(
    delay: float,
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        async with timeout_after(delay) as scope:
            await asyncio.sleep(delay * 3)
    elapsed = loop.time() - started
    assert scope.expired()
    assert delay <= elapsed <= delay * 1.01 + 0.02  # + what a busy loop adds to any timer


async def test_a_finished_block_is_not_cancelled_later() -> None:
    async with timeout_after(1.0) as scope:
        await asyncio.sleep(0)
    await asyncio.sleep(1.1)  # past the slot: nothing may cancel this task now
    assert not scope.expired()


async def test_many_deadlines_share_one_loop_timer_and_each_fires() -> None:
    async def one(delay: float) -> bool:
        try:
            async with timeout_after(delay):
                await asyncio.sleep(5)
        except TimeoutError:
            return True
        return False

    assert await asyncio.gather(*(one(1.0 + i / 100) for i in range(20))) == [True] * 20


async def test_a_cancellation_from_outside_is_not_turned_into_a_timeout() -> None:
    async def guarded() -> None:
        async with timeout_after(10.0):
            await asyncio.sleep(5)

    task = asyncio.create_task(guarded())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_other_errors_pass_through() -> None:
    with pytest.raises(KeyError):
        async with timeout_after(10.0):
            raise KeyError("x")
