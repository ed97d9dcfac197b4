"""What every Broker backend guarantees at the seam (below the consumer runtime)."""

from __future__ import annotations

import asyncio
import itertools

from interlink.broker import (
    Broker,
    Delivery,
    KafkaBroker,
    MemoryBroker,
    NatsBroker,
    RabbitBroker,
    RedisBroker,
    Subscription,
)
from tests.conftest import eventually


async def take(sub: Subscription, n: int, timeout: float = 5.0) -> list[Delivery]:
    async with asyncio.timeout(timeout):
        return [await anext(sub) for _ in range(n)]


_topics = itertools.count()


def topic() -> str:
    return f"contract.t{next(_topics)}"


async def test_every_group_gets_every_message(broker: Broker) -> None:
    t = topic()
    a = await broker.subscribe(t, group="a", max_in_flight=10)
    b = await broker.subscribe(t, group="b", max_in_flight=10)
    for i in range(3):
        await broker.publish(t, f"m{i}".encode())
    got_a = [d.body for d in await take(a, 3)]
    got_b = [d.body for d in await take(b, 3)]
    if isinstance(broker, KafkaBroker):  # unkeyed messages spread over partitions: no order
        got_a, got_b = sorted(got_a), sorted(got_b)
    assert got_a == got_b == [b"m0", b"m1", b"m2"]
    await a.close()
    await b.close()


async def test_members_of_one_group_share_the_messages(broker: Broker) -> None:
    t = topic()
    # Each member may hold 10 and settles nothing until all 20 are out: neither can take
    # them all, however the two members' reads interleave. Kafka splits a group by partitions
    # and moves them when the second member joins: there both settle at once.
    first = await broker.subscribe(t, group="g", max_in_flight=10)
    second = await broker.subscribe(t, group="g", max_in_flight=10)
    seen: dict[str, list[bytes]] = {"first": [], "second": []}
    all_out = asyncio.Event()
    if isinstance(broker, KafkaBroker):
        all_out.set()

    async def settle(delivery: Delivery) -> None:
        await all_out.wait()
        await delivery.ack()

    async def drain(name: str, sub: Subscription) -> None:
        async with asyncio.TaskGroup() as acks:
            async for delivery in sub:
                seen[name].append(delivery.body)
                if len(seen["first"]) + len(seen["second"]) == 20:
                    all_out.set()
                acks.create_task(settle(delivery))

    tasks = [
        asyncio.create_task(drain("first", first)),
        asyncio.create_task(drain("second", second)),
    ]
    for i in range(20):
        await broker.publish(t, str(i).encode())
    await eventually(lambda: len(seen["first"]) + len(seen["second"]) == 20)
    assert seen["first"], seen
    assert seen["second"], seen
    assert sorted(seen["first"] + seen["second"], key=int) == [str(i).encode() for i in range(20)]
    await first.close()
    await second.close()
    await asyncio.gather(*tasks)


async def test_nack_redelivers_with_a_higher_attempt(broker: Broker) -> None:
    t = topic()
    sub = await broker.subscribe(t, group="g", max_in_flight=1)
    await broker.publish(t, b"x", key="k1", headers={"h": "v"})
    (first,) = await take(sub, 1)
    assert (first.attempt, first.key, dict(first.headers)) == (1, "k1", {"h": "v"})
    await first.nack()
    (second,) = await take(sub, 1)
    assert (second.body, second.attempt) == (b"x", 2)
    await second.ack()
    await sub.close()


async def test_nack_with_delay_waits_before_redelivery(broker: Broker) -> None:
    t = topic()
    sub = await broker.subscribe(t, group="g", max_in_flight=1)
    await broker.publish(t, b"x")
    (first,) = await take(sub, 1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await first.nack(delay=0.1)
    (again,) = await take(sub, 1)
    assert loop.time() - started >= 0.09
    await again.ack()
    await sub.close()


async def test_acked_and_terminated_messages_never_come_back(broker: Broker) -> None:
    t = topic()
    sub = await broker.subscribe(t, group="g", max_in_flight=10)
    await broker.publish(t, b"acked")
    await broker.publish(t, b"termed")
    acked, termed = await take(sub, 2)
    await acked.ack()
    await termed.term()
    await broker.publish(t, b"next")
    (following,) = await take(sub, 1)
    assert following.body == b"next"
    await following.ack()
    await sub.close()


async def test_a_group_sees_only_messages_published_after_it_joined(broker: Broker) -> None:
    t = topic()
    await broker.publish(t, b"before")
    sub = await broker.subscribe(t, group="late", max_in_flight=10)
    await broker.publish(t, b"after")
    (delivery,) = await take(sub, 1)
    assert delivery.body == b"after"
    await delivery.ack()
    await sub.close()


async def test_a_group_keeps_messages_while_it_has_no_member(broker: Broker) -> None:
    t = topic()
    sub = await broker.subscribe(t, group="durable", max_in_flight=10)
    await sub.close()
    await broker.publish(t, b"while away")
    back = await broker.subscribe(t, group="durable", max_in_flight=10)
    (delivery,) = await take(back, 1)
    assert delivery.body == b"while away"
    await delivery.ack()
    await back.close()


async def test_close_ends_iteration_and_keeps_handed_out_deliveries_valid(broker: Broker) -> None:
    t = topic()
    sub = await broker.subscribe(t, group="g", max_in_flight=10)
    await broker.publish(t, b"x")
    (delivery,) = await take(sub, 1)
    waiting = asyncio.create_task(anext(sub))
    await asyncio.sleep(0)
    await sub.close()
    async with asyncio.timeout(2):
        try:
            await waiting
            raise AssertionError("iteration should end on close")
        except StopAsyncIteration:
            pass
    await delivery.nack()  # returned to the group, not lost
    again = await broker.subscribe(t, group="g", max_in_flight=10)
    (redelivered,) = await take(again, 1)
    assert redelivered.body == b"x"
    await redelivered.ack()
    await again.close()


async def test_a_subscription_says_how_often_work_in_progress_must_be_reported(
    broker: Broker,
) -> None:
    sub = await broker.subscribe(topic(), group="g", max_in_flight=1)
    if isinstance(broker, MemoryBroker | RabbitBroker | KafkaBroker):
        # None takes a delivery back on its own (RabbitMQ: only when its channel closes;
        # Kafka: only when its member's session ends).
        assert sub.heartbeat is None
    else:
        assert isinstance(broker, NatsBroker | RedisBroker)
        assert sub.heartbeat == broker.settings.ack_wait / 3
    await sub.close()


async def test_a_message_id_published_again_is_dropped(broker: Broker) -> None:
    if isinstance(broker, RabbitBroker | KafkaBroker):
        await _rabbitmq_keeps_copies(broker)
        return
    t = topic()
    sub = await broker.subscribe(t, group="g", max_in_flight=10)
    await broker.publish(t, b"first", message_id=f"{t}-1")
    await broker.publish(t, b"copy", message_id=f"{t}-1")
    await broker.publish(t, b"keyed", key="k", message_id=f"{t}-2")
    await broker.publish(t, b"keyed copy", key="k", message_id=f"{t}-2")
    first = await take(sub, 1)
    await first[0].ack()
    second = await take(sub, 1)
    await second[0].ack()
    assert sorted(d.body for d in first + second) == [b"first", b"keyed"]
    # A copy would come before these: on its lane, later messages wait behind it.
    await broker.publish(t, b"end")
    await broker.publish(t, b"end of k", key="k")
    rest = await take(sub, 2)
    assert sorted(d.body for d in rest) == [b"end", b"end of k"]
    for delivery in rest:
        await delivery.ack()
    await sub.close()


async def _rabbitmq_keeps_copies(broker: Broker) -> None:
    """RabbitMQ and Kafka have no duplicate window (Kafka's idempotent producer drops only its
    own retries): a copy is delivered (the consumer's Dedupe drops it)."""
    t = topic()
    sub = await broker.subscribe(t, group="g", max_in_flight=10)
    await broker.publish(t, b"first", message_id=f"{t}-1")
    await broker.publish(t, b"copy", message_id=f"{t}-1")
    got = await take(sub, 2)
    assert sorted(d.body for d in got) == [b"copy", b"first"]  # Kafka: unkeyed, any order
    for delivery in got:
        await delivery.ack()
    await sub.close()
