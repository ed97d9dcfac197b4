"""What a RabbitMQ member holds unsettled, read from the server: the unkeyed queue's prefetch
(``max_in_flight``) plus one per partition queue it consumes, never more.

The server's count of unacknowledged messages is what was published minus what was acked minus
what is still ready in the group's queues (a passive declare reports the ready ones).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from interlink.broker import Delivery
from interlink.broker._nats_streams import key_partition
from interlink.broker._rabbitmq import RabbitBroker
from tests.conformance.broker.conftest import unique
from tests.conftest import RabbitServer, eventually

MESSAGES = 120


@pytest.fixture
async def rabbit(rabbitmq_server: RabbitServer) -> AsyncIterator[RabbitBroker]:
    broker = RabbitBroker(rabbitmq_server.url)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.close()


async def ready(broker: RabbitBroker, topic: str, group: str) -> int:
    channel = await broker.connection.channel()
    try:
        names = [f"il.{topic}.{group}"]
        names += [f"il.{topic}.{group}.p{n}" for n in range(broker.settings.partitions)]
        total = 0
        for name in names:
            queue = await channel.declare_queue(name, passive=True)
            total += int(queue.declaration_result.message_count or 0)
        return total
    finally:
        await channel.close()


@pytest.mark.parametrize("max_in_flight", [1, 16])
async def test_a_member_holds_its_prefetch_plus_one_per_partition_queue(
    rabbit: RabbitBroker, max_in_flight: int
) -> None:
    topic = unique("bound.r")
    sub = await rabbit.subscribe(topic, group="g", max_in_flight=max_in_flight)
    keys = [f"k{n % 20}" if n % 2 else None for n in range(MESSAGES)]
    for n, key in enumerate(keys):
        await rabbit.publish(topic, b"%d" % n, key=key)
    partitions = {key_partition(k, rabbit.settings.partitions) for k in keys if k is not None}
    bound = max_in_flight + len(partitions)
    held: list[Delivery] = []

    async def read() -> None:
        async for delivery in sub:
            held.append(delivery)

    reader = asyncio.create_task(read())
    try:
        await eventually(lambda: len(held) >= bound, timeout=30)
        polls = 0

        def a_while() -> bool:  # time for an unbounded prefetch to show
            nonlocal polls
            polls += 1
            return polls > 200

        await eventually(a_while)
        assert len(held) == bound
        assert MESSAGES - await ready(rabbit, topic, "g") == bound
        acked = 0
        while acked < MESSAGES:
            await eventually(lambda: len(held) > acked, timeout=30)  # noqa: B023
            await held[acked].ack()
            acked += 1
            assert len(held) - acked <= bound
        assert await ready(rabbit, topic, "g") == 0
    finally:
        await sub.close()
        reader.cancel()
