"""Fixtures for the resilience suite: a fake clock, and a way to let the loop settle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from interlink.resilience._events import Event
from interlink.testing import FakeClock

Until = Callable[[Callable[[], bool]], Awaitable[None]]


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
def events() -> list[Event]:
    return []
