"""Kafka specifics: the committed offset never passes a message not yet done, and a delayed
nack holds its message (and its key) in the member while the partition's other keys go on.
What breaks these, and which test then fails:
- committing the fetch position instead of the lowest outstanding offset (``Lane.watermark``):
  ``test_a_group_commits_no_further_than_its_oldest_unfinished_message``.
- handing out while ``max_in_flight`` deliveries are out (``_dispatch``):
  ``test_a_member_hands_out_no_more_than_max_in_flight``.
- ``read`` listing a dead letter's copy (``retained`` not skipping a message id seen before):
  ``test_a_dead_letter_published_twice_with_one_id_is_read_once``.
- a busy key blocking every keyed record of its partition (``Lane.take``), or a held record's
  key freed before it comes back (``give_back``):
  ``test_a_delayed_nack_holds_its_key_and_lets_other_keys_go_on``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from interlink.broker import Delivery, KafkaBroker, Subscription, broker_from_url
from interlink.broker._kafka_subscription import KafkaSubscription
from tests.conformance.broker.conftest import unique
from tests.conftest import KafkaServer, eventually


@pytest.fixture
async def kafka(kafka_server: KafkaServer) -> AsyncIterator[KafkaBroker]:
    broker = broker_from_url(kafka_server.url + "?partitions=1&session_timeout=2")
    assert isinstance(broker, KafkaBroker)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.close()


async def take(sub: Subscription, timeout: float = 10.0) -> Delivery:
    async with asyncio.timeout(timeout):
        return await anext(sub)


async def test_a_group_commits_no_further_than_its_oldest_unfinished_message(
    kafka: KafkaBroker,
) -> None:
    topic = unique("kafka.commit")
    sub = await kafka.subscribe(topic, group="g", max_in_flight=3)
    for n in range(3):
        await kafka.publish(topic, b"%d" % n)
    held, *rest = [await take(sub) for _ in range(3)]
    assert [held.body, *(d.body for d in rest)] == [b"0", b"1", b"2"]
    for delivery in rest:
        await delivery.ack()
    await sub.close()  # "0" was never acked: the group's offset stays before it
    assert await kafka.lag(topic, "g") == 3
    again = await kafka.subscribe(topic, group="g", max_in_flight=3)
    first = await take(again)
    assert first.body == b"0"
    await first.ack()
    for _ in range(2):  # the later ones come again too: at least once, never lost
        await (await take(again)).ack()

    async def done() -> bool:
        return await kafka.lag(topic, "g") == 0

    await eventually(done)
    await again.close()


async def test_a_delayed_nack_holds_its_key_and_lets_other_keys_go_on(kafka: KafkaBroker) -> None:
    topic = unique("kafka.hold")
    sub = await kafka.subscribe(topic, group="g", max_in_flight=4)
    await kafka.publish(topic, b"a1", key="a")
    await kafka.publish(topic, b"b1", key="b")
    await kafka.publish(topic, b"a2", key="a")
    await kafka.publish(topic, b"b2", key="b")
    first = await take(sub)
    assert first.body == b"a1"
    loop = asyncio.get_running_loop()
    returned_at = loop.time()
    await first.nack(delay=1.0)
    got: list[tuple[bytes, int]] = []
    while len(got) < 4:
        delivery = await take(sub)
        got.append((delivery.body, delivery.attempt))
        if delivery.body == b"b2":
            assert loop.time() - returned_at < 1.0  # key b went on while a1 was held
        if delivery.body == b"a1":
            assert loop.time() - returned_at >= 0.99
        await delivery.ack()
    assert got == [(b"b1", 1), (b"b2", 1), (b"a1", 2), (b"a2", 1)]
    await sub.close()


async def test_a_member_hands_out_no_more_than_max_in_flight(kafka: KafkaBroker) -> None:
    topic = unique("kafka.bound")
    sub = await kafka.subscribe(topic, group="g", max_in_flight=2)
    assert isinstance(sub, KafkaSubscription)
    for n in range(5):
        await kafka.publish(topic, b"%d" % n)
    held = [await take(sub) for _ in range(2)]
    # The other three are fetched and wait in the member, none handed out.
    await eventually(lambda: sub.waiting == 3)
    assert sub.in_flight == 2
    waiting = asyncio.create_task(take(sub))
    await held[0].nack()  # settled: its slot frees, and it is the next one out
    again = await waiting
    assert (again.body, again.attempt, sub.in_flight) == (held[0].body, 2, 2)
    await again.ack()  # a slot frees: the next waiting record goes out, and no more
    third = await take(sub)
    assert (sub.in_flight, sub.waiting) == (2, 2)
    await third.ack()
    await held[1].ack()
    await sub.close()


async def test_a_dead_letter_published_twice_with_one_id_is_read_once(kafka: KafkaBroker) -> None:
    """The consumer dead-letters a message again when it crashed before settling it; with the
    same message id, and Kafka has no duplicate window: ``read`` skips the copy."""
    topic = unique("kafka.copies") + ".dlq"
    await kafka.publish(topic, b"failed", headers={"h": "1"}, message_id="dlq:g:1")
    await kafka.publish(topic, b"failed", headers={"h": "1"}, message_id="dlq:g:1")
    await kafka.publish(topic, b"other", message_id="dlq:g:2")
    stored = await kafka.read(topic, limit=10)
    assert [(m.body, dict(m.headers)) for m in stored] == [(b"failed", {"h": "1"}), (b"other", {})]
    await kafka.remove(topic, stored[0].ref)  # the copy goes with it
    assert [m.body for m in await kafka.read(topic, limit=10)] == [b"other"]
    assert await kafka.purge(topic) == 1
