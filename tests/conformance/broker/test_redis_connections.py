"""A Redis broker under load shares a bounded number of connections without failing a command.

256 deliveries in flight, each settled by its own ``XACK`` script call, plus 64 publishers at
once, are more commands at once than a connection pool holds. It breaks, and
``test_a_burst_of_settlements_and_publishes_never_runs_out_of_connections`` fails, if a command
that finds every pooled connection busy fails (``MaxConnectionsError``) instead of waiting for
one, or if pub/sub listeners hold the connections the commands wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from interlink.broker import Delivery, RedisBroker
from tests.conformance.broker.conftest import make_broker, unique

MESSAGES = 2_000
PUBLISHERS = 64
IN_FLIGHT = 256


@pytest.fixture
async def redis_broker(request: pytest.FixtureRequest) -> AsyncIterator[RedisBroker]:
    backend = make_broker(request, "redis", "?ack_wait=30")
    assert isinstance(backend, RedisBroker)
    await backend.connect()
    try:
        yield backend
    finally:
        await backend.close()


async def test_a_burst_of_settlements_and_publishes_never_runs_out_of_connections(
    redis_broker: RedisBroker,
) -> None:
    broker = redis_broker
    topic = unique("pool.t")
    sub = await broker.subscribe(topic, group="burst", max_in_flight=IN_FLIGHT)
    inboxes = [await broker.open_inbox() for _ in range(4)]  # pub/sub connections held open
    handled: Counter[bytes] = Counter()
    errors: list[BaseException] = []
    done = asyncio.Event()

    async def publisher(first: int) -> None:
        for n in range(first, MESSAGES, PUBLISHERS):
            try:
                await broker.publish(topic, b"%d" % n, key=f"k{n % 50}" if n % 2 else None)
            except Exception as exc:
                errors.append(exc)

    async def work(delivery: Delivery) -> None:
        await asyncio.sleep(0)  # every delivery settles at once, as a busy handler pool does
        try:
            await delivery.ack()
        except Exception as exc:
            errors.append(exc)
            return
        handled[delivery.body] += 1
        if len(handled) == MESSAGES:
            done.set()

    async def consume() -> None:
        async with asyncio.TaskGroup() as tasks:
            async for delivery in sub:
                tasks.create_task(work(delivery))

    reader = asyncio.create_task(consume())
    try:
        async with asyncio.TaskGroup() as publishers:
            for first in range(PUBLISHERS):
                publishers.create_task(publisher(first))
        with contextlib.suppress(TimeoutError):  # a failed ack comes back after ack_wait only
            async with asyncio.timeout(20):
                await done.wait()
        await asyncio.sleep(0.2)  # nothing is handed out twice
    finally:
        await sub.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        for inbox in inboxes:
            await inbox.close()
    assert [repr(exc) for exc in errors][:3] == []
    assert set(handled) == {b"%d" % n for n in range(MESSAGES)}
    assert set(handled.values()) == {1}
