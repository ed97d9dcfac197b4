"""RabbitMQ keeps a group's delayed returns itself: ``nack(delay)`` of an unkeyed message
sends it through a delay queue and settles it at once, so the member's slot is free during the
delay, a member gone meanwhile loses nothing, and ``attempt`` keeps counting across trips.
A keyed message is held by its member instead (it must come back before its key's next one).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from interlink.broker import Delivery, Subscription
from interlink.broker._rabbitmq import RabbitBroker
from interlink.broker._rabbitmq_delay import BUCKETS, bucket_of
from tests.conformance.broker.conftest import unique
from tests.conftest import RabbitServer


@pytest.fixture
async def rabbit(rabbitmq_server: RabbitServer) -> AsyncIterator[RabbitBroker]:
    broker = RabbitBroker(rabbitmq_server.url)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.close()


async def take(sub: Subscription, timeout: float = 10) -> Delivery:
    async with asyncio.timeout(timeout):
        return await anext(aiter(sub))


def test_a_delay_is_rounded_up_to_its_bucket() -> None:
    assert [bucket_of(d) for d in (0.0, 0.05, 0.06, 1.0, 1.5)] == [0.05, 0.05, 0.1, 1.0, 2.0]
    assert bucket_of(10**6) == BUCKETS[-1]


async def test_the_member_holds_nothing_while_the_delay_runs(rabbit: RabbitBroker) -> None:
    topic = unique("delay.free")
    sub = await rabbit.subscribe(topic, group="g", max_in_flight=1)
    await rabbit.publish(topic, b"first", headers={"h": "v"})
    await rabbit.publish(topic, b"second")
    first = await take(sub)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await first.nack(delay=2.0)
    assert loop.time() - started < 1.5, "nack(delay) waited in the member"
    second = await take(sub)  # the only slot is free again: the next message comes at once
    assert (second.body, loop.time() - started < 1.5) == (b"second", True)
    await second.ack()
    again = await take(sub)
    assert (again.body, again.attempt, dict(again.headers)) == (b"first", 2, {"h": "v"})
    assert loop.time() - started >= 1.9
    await again.ack()
    await sub.close()


async def test_attempt_counts_every_trip_through_a_delay_queue(rabbit: RabbitBroker) -> None:
    topic = unique("delay.count")
    sub = await rabbit.subscribe(topic, group="g", max_in_flight=4)
    await rabbit.publish(topic, b"x")
    attempts = []
    for _ in range(3):
        delivery = await take(sub)
        attempts.append(delivery.attempt)
        await delivery.nack(delay=0.05)
    delivery = await take(sub)
    attempts.append(delivery.attempt)
    await delivery.nack()  # returned at once: the queue counts it
    delivery = await take(sub)
    attempts.append(delivery.attempt)
    await delivery.ack()
    assert attempts == [1, 2, 3, 4, 5]
    await sub.close()


async def test_a_member_gone_during_the_delay_leaves_the_message_to_another(
    rabbit: RabbitBroker, rabbitmq_server: RabbitServer
) -> None:
    topic = unique("delay.gone")
    other = RabbitBroker(rabbitmq_server.url)
    await other.connect()
    sub = await other.subscribe(topic, group="g", max_in_flight=1)
    await rabbit.publish(topic, b"x")
    delivery = await take(sub)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await delivery.nack(delay=1.0)
    await other.close()  # the member dies while the delay runs
    survivor = await rabbit.subscribe(topic, group="g", max_in_flight=1)
    again = await take(survivor)
    assert (again.body, again.attempt) == (b"x", 2)
    assert loop.time() - started >= 0.9, "returned at once, not after its delay"
    await again.ack()
    await survivor.close()


async def test_a_keyed_message_held_for_its_delay_comes_back_before_its_key_next(
    rabbit: RabbitBroker,
) -> None:
    topic = unique("delay.keyed")
    sub = await rabbit.subscribe(topic, group="g", max_in_flight=4)
    await rabbit.publish(topic, b"k0", key="k")
    await rabbit.publish(topic, b"k1", key="k")
    first = await take(sub)
    await first.nack(delay=0.2)
    seen = []
    for _ in range(2):
        delivery = await take(sub)
        seen.append((delivery.body, delivery.attempt))
        await delivery.ack()
    assert seen == [(b"k0", 2), (b"k1", 1)]
    await sub.close()
