"""How topics, keys and groups sit on JetStream: partition subjects and consumers, the
partition count kept by the stream, streams from before partitions, interest retention, and
the heartbeat a member must keep."""

from __future__ import annotations

import asyncio

import pytest

import interlink as il
from interlink.broker import NatsBroker, broker_from_url
from interlink.broker._nats_streams import (
    consumer_name,
    key_partition,
    partitions_wildcard,
    stream_name,
)
from tests.conformance.broker.conftest import JETSTREAM, make_broker, unique
from tests.conftest import eventually


async def test_a_group_has_one_consumer_per_partition_plus_one(jetstream: NatsBroker) -> None:
    topic = unique("layout.t")
    sub = await jetstream.subscribe(topic, group="billing", max_in_flight=4)
    info = await jetstream.jetstream.stream_info(stream_name(topic))
    assert info.config.subjects == [topic, f"_IL.P.*.{topic}"]
    consumers = await jetstream.jetstream.consumers_info(stream_name(topic))
    base = consumer_name("billing")
    by_name = {c.name: c.config for c in consumers}
    assert by_name[base].filter_subject == topic
    for n in range(8):
        partition = by_name[f"{base}_P{n}"]
        assert (partition.filter_subject, partition.max_ack_pending) == (f"_IL.P.{n}.{topic}", 1)
    assert len(by_name) == 9
    await sub.close()


@pytest.mark.parametrize("kind", JETSTREAM)
async def test_the_partition_count_is_the_streams_not_each_publishers(
    kind: str, request: pytest.FixtureRequest
) -> None:
    topic = unique("layout.count")
    first = make_broker(request, kind, "?partitions=3")
    other = make_broker(request, kind, "?partitions=5")
    assert isinstance(first, NatsBroker)
    assert isinstance(other, NatsBroker)
    assert (first.settings.partitions, other.settings.partitions) == (3, 5)
    await first.connect()
    await other.connect()
    try:
        sub = await first.subscribe(topic, group="g", max_in_flight=4)
        assert len(await first.jetstream.consumers_info(stream_name(topic))) == 4
        # A key the other publisher would put on a partition the stream does not have.
        key = next(k for k in (f"key{i}" for i in range(100)) if key_partition(k, 5) >= 3)
        await other.publish(topic, b"x", key=key)
        async with asyncio.timeout(10):
            delivery = await anext(sub)
        assert (delivery.body, delivery.key) == (b"x", key)
        await delivery.ack()
        await sub.close()
    finally:
        await first.close()
        await other.close()


async def test_a_stream_from_before_partitions_gains_them_for_its_groups(
    jetstream: NatsBroker,
) -> None:
    from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy

    topic = unique("layout.old")
    js, name, old = jetstream.jetstream, stream_name(topic), consumer_name("old")
    await js.add_stream(name=name, subjects=[topic], retention=RetentionPolicy.INTEREST)
    config = ConsumerConfig(
        name=old, durable_name=old, filter_subject=topic, ack_policy=AckPolicy.EXPLICIT
    )
    await js.add_consumer(name, config=config)
    await jetstream.publish(topic, b"keyed", key="k")  # finds the old stream and updates it
    info = await js.stream_info(name)
    assert partitions_wildcard(topic) in (info.config.subjects or [])
    # The old group got its partition consumers with the update: the message waited for it.
    assert info.state.messages == 1
    sub = await jetstream.subscribe(topic, group="old", max_in_flight=4)
    async with asyncio.timeout(10):
        delivery = await anext(sub)
    assert (delivery.body, delivery.key) == (b"keyed", "k")
    await delivery.ack()
    await sub.close()


async def test_topics_in_the_partition_namespace_are_refused(jetstream: NatsBroker) -> None:
    with pytest.raises(il.ConfigurationError, match="reserved"):
        await jetstream.publish("_IL.P.0.orders", b"x")


async def test_a_keyed_message_stays_until_every_group_acked_it(jetstream: NatsBroker) -> None:
    topic = unique("layout.interest")
    js, name = jetstream.jetstream, stream_name(topic)
    a = await jetstream.subscribe(topic, group="a", max_in_flight=4)
    b = await jetstream.subscribe(topic, group="b", max_in_flight=4)
    await jetstream.publish(topic, b"x", key="k")
    async with asyncio.timeout(10):
        first = await anext(a)
    await first.ack()

    async def acked_by_a() -> bool:
        consumers = await js.consumers_info(name)
        mine = [c for c in consumers if c.name.startswith(consumer_name("a"))]
        return sum(c.num_ack_pending or 0 for c in mine) == 0 and any(
            c.ack_floor and c.ack_floor.stream_seq for c in mine
        )

    await eventually(acked_by_a)
    assert (await js.stream_info(name)).state.messages == 1  # group b still has it to do
    async with asyncio.timeout(10):
        second = await anext(b)
    await second.ack()

    async def gone() -> bool:
        return (await js.stream_info(name)).state.messages == 0

    await eventually(gone)
    await a.close()
    await b.close()


async def test_marking_work_in_progress_at_the_heartbeat_keeps_a_delivery(
    jetstream: NatsBroker,
) -> None:
    topic = unique("layout.heartbeat")
    busy = await jetstream.subscribe(topic, group="g", max_in_flight=1)
    assert busy.heartbeat == pytest.approx(1 / 3)  # ack_wait=1 on this broker
    await jetstream.publish(topic, b"slow")
    async with asyncio.timeout(10):
        delivery = await anext(busy)
    other = await jetstream.subscribe(topic, group="g", max_in_flight=1)
    stolen = asyncio.create_task(anext(other))
    for _ in range(6):  # twice ack_wait of work, reporting progress at the heartbeat
        await delivery.in_progress()
        await asyncio.sleep(busy.heartbeat)
    assert not stolen.done(), "redelivered although progress was reported in time"
    await delivery.ack()
    await other.close()
    with pytest.raises(StopAsyncIteration):
        await stolen
    await busy.close()


def test_partitions_ride_on_the_url() -> None:
    broker = broker_from_url("nats://127.0.0.1:4222?partitions=16&ack_wait=2")
    assert isinstance(broker, NatsBroker)
    assert (broker.settings.partitions, broker.settings.ack_wait) == (16, 2.0)
    with pytest.raises(il.ConfigurationError, match="partitions"):
        broker_from_url("nats://127.0.0.1:4222?partitions=0")
