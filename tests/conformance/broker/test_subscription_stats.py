"""A group's counts at the seam: pending, unacknowledged, and the dead letters it made."""

from __future__ import annotations

import asyncio

import interlink as il
from interlink.broker import (
    Broker,
    KafkaBroker,
    RabbitBroker,
    SubscriptionStatistics,
    SubscriptionStats,
)
from interlink.messaging import count_dead_letters
from tests.conformance.broker.conftest import Backend, unique
from tests.conftest import eventually


def counted(broker: Broker) -> tuple[bool, bool]:
    """(unacknowledged is counted, pending includes the unacknowledged ones)"""
    if isinstance(broker, KafkaBroker):
        return False, True
    return not isinstance(broker, RabbitBroker), False


async def stats(broker: Broker, topic: str, group: str) -> SubscriptionStats:
    assert isinstance(broker, SubscriptionStatistics)
    return await broker.subscription_stats(topic, group)


def expect(broker: Broker, pending: int, unacked: int) -> SubscriptionStats:
    """What ``broker`` reports with ``pending`` not handed out and ``unacked`` out."""
    unacked_counted, lag_only = counted(broker)
    if lag_only:
        return SubscriptionStats(pending=pending + unacked, unacknowledged=None)
    return SubscriptionStats(pending, unacked if unacked_counted else None)


async def test_pending_and_unacknowledged_are_counted(broker: Broker) -> None:
    topic, group = unique("stats.t"), unique("g")
    sub = await broker.subscribe(topic, group=group, max_in_flight=2)
    idle = await broker.subscribe(topic, group=unique("idle"), max_in_flight=1)
    await idle.close()  # a group of its own, keeping every message: counted apart
    try:
        for n in range(5):
            await broker.publish(topic, str(n).encode())
        async with asyncio.timeout(10):
            first, _second = [await anext(sub) for _ in range(2)]

        async def now_is(want: SubscriptionStats) -> bool:
            return await stats(broker, topic, group) == want

        await eventually(lambda: now_is(expect(broker, 3, 2)))
        await first.ack()
        async with asyncio.timeout(10):
            await anext(sub)  # 2 out again, 2 left
        await eventually(lambda: now_is(expect(broker, 2, 2)), timeout=15)
    finally:
        await sub.close()


async def test_keyed_messages_are_counted_in_their_partitions(broker: Broker) -> None:
    topic, group = unique("stats.k"), unique("g")
    sub = await broker.subscribe(topic, group=group, max_in_flight=4)
    try:
        for n in range(3):
            await broker.publish(topic, str(n).encode(), key="one-key")
        async with asyncio.timeout(10):
            await anext(sub)  # one of a key at a time: the others wait for it

        async def counted_so() -> bool:
            return await stats(broker, topic, group) == expect(broker, 2, 1)

        await eventually(counted_so)
    finally:
        await sub.close()


async def test_an_unknown_group_counts_nothing(broker: Broker) -> None:
    topic = unique("stats.none")
    await broker.publish(topic, b"x")
    got = await stats(broker, topic, unique("nobody"))
    if isinstance(broker, KafkaBroker):  # a group that committed nothing lags the whole topic
        assert got.pending == 1
    else:
        assert got.pending == 0
    assert got.unacknowledged in (0, None)


async def test_dead_letters_are_counted_per_group(backend: Backend) -> None:
    topic = unique("stats.dl")
    failing, fine = il.Service(unique("failing")), il.Service(unique("fine"))
    handled: list[int] = []

    @failing.subscribe(topic, retry=il.Retry(attempts=1, on=Exception))
    async def fail(n: int) -> None:
        raise RuntimeError(f"no {n}")

    @fine.subscribe(topic)
    async def work(n: int) -> None:
        handled.append(n)

    async with backend.app([failing, fine]) as app:
        for n in range(2):
            await app.publish(topic, n)
        await eventually(lambda: len(handled) == 2)

        async def dead(group: str) -> int:
            return await count_dead_letters(backend.inspect, topic, group=group)

        async def two_dead() -> bool:
            return await dead(failing.name) == 2

        await eventually(two_dead, timeout=15)
        assert await dead(fine.name) == 0
        assert await count_dead_letters(backend.inspect, topic) == 2
        assert await count_dead_letters(backend.inspect, topic, group=failing.name, limit=1) == 1
