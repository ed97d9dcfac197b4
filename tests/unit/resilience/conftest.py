"""Fixtures for the resilience suite: a fake clock, and a way to let the loop settle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from interlink.testing import FakeClock

Until = Callable[[Callable[[], bool]], Awaitable[None]]
Drive = Callable[[Awaitable[Any]], Awaitable[Any]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def until() -> Until:
    """``await until(lambda: cond)``: run the loop until ``cond`` holds (bounded, no sleeps)."""

    async def wait(condition: Callable[[], bool]) -> None:
        for _ in range(10_000):
            if condition():
                return
            await asyncio.sleep(0)
        raise AssertionError("the condition never became true")

    return wait


@pytest.fixture
def drive(clock: FakeClock) -> Drive:
    """``await drive(work)``: run ``work``, jumping the clock to each sleeper's deadline."""

    async def run(work: Awaitable[Any]) -> Any:
        task = asyncio.ensure_future(work)
        while not task.done():
            for _ in range(10):  # let cancelled timers leave the clock first
                await asyncio.sleep(0)
            wake = clock.next_deadline()
            if wake is not None:
                clock.advance(wake - clock.monotonic())
        return task.result()

    return run
