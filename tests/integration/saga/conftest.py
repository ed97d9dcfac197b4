"""Fixtures for the saga suites: a ``Database`` per backend, fresh tables per test, a fake clock,
and ``drive``, which moves the fake clock whenever the sagas only wait on it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from interlink.messaging.inbox import Database
from interlink.testing import FakeClock

T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return str(request.getfixturevalue("postgres_dsn"))


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def db(url: str, prefix: str) -> AsyncIterator[Database]:
    async with Database(url, table=f"{prefix}_inbox", outbox_table=f"{prefix}_outbox") as opened:
        yield opened


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def drive(clock: FakeClock, work: Awaitable[T], *, quiet: int = 3) -> T:
    """Await ``work``; whenever the clock's sleepers stay the same for ``quiet`` short real
    pauses (nothing but the clock can move them on), advance it to the next deadline."""
    task: asyncio.Future[Any] = asyncio.ensure_future(work)
    seen: tuple[int, float | None] | None = None
    still = 0
    while not task.done():
        await asyncio.wait({task}, timeout=0.01)
        view = (clock.sleepers, clock.next_deadline())
        still = still + 1 if view == seen and clock.sleepers else 0
        seen = view
        deadline = clock.next_deadline()
        if still >= quiet and deadline is not None:
            clock.advance(max(0.0, deadline - clock.monotonic()))
            still, seen = 0, None
    return await task
