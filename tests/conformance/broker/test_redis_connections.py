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


async def test_concurrent_publishes_share_round_trips_and_each_keeps_its_own_outcome(
    redis_broker: RedisBroker,
) -> None:
    """300 publishes at once go out in pipelines: every one is stored once, a duplicate id
    (30 of them) is dropped, and each caller returns only once its own entry is in."""
    broker = redis_broker
    topic = unique("batch.t")
    before = await _evalsha_calls(broker)
    await asyncio.gather(
        *(broker.publish(topic, b"%d" % n, message_id=f"m{n % 270}") for n in range(300))
    )
    stored = await broker.read(topic, limit=1000)
    assert sorted(int(m.body) for m in stored) == list(range(270))
    assert await _evalsha_calls(broker) - before >= 300  # each its own script run


async def test_concurrent_acks_go_together_and_every_one_is_applied(
    redis_broker: RedisBroker,
) -> None:
    broker = redis_broker
    topic = unique("acks.t")
    sub = await broker.subscribe(topic, group="g", max_in_flight=300)
    for n in range(300):
        await broker.publish(topic, b"%d" % n)
    held: list[Delivery] = []
    async with asyncio.timeout(20):
        async for delivery in sub:
            held.append(delivery)
            if len(held) == 300:
                break
    await asyncio.gather(*(d.ack() for d in held))
    pending = (await broker.client.xpending(f"il:{{{topic}}}:s", "g"))["pending"]
    await sub.close()
    assert pending == 0


async def _evalsha_calls(broker: RedisBroker) -> int:
    stats = await broker.client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))
