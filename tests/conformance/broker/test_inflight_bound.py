"""``max_in_flight`` bounds what the broker has handed a member and not had settled.

Read from the server — JetStream: ``num_ack_pending`` summed over the group's consumers
(unkeyed and every partition); Redis: the group's pending entries over the topic's streams —
it never exceeds it, while handlers hold every delivery and while
they settle. It breaks, and ``test_the_server_never_has_more_pending_for_a_member_than_its_bound``
fails, if a member pulls more than its free credit (e.g. the unkeyed lane asking for
``max_in_flight`` whatever is taken), forgets deliveries handed out, or frees a delivery's
credit before JetStream confirmed its ack; on Redis if ``POLL`` is asked for more than the
free credit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from interlink.broker import Broker, Delivery, NatsBroker, RedisBroker
from interlink.broker._nats_streams import stream_name
from interlink.broker._redis_layout import TopicKeys
from tests.conformance.broker.conftest import JETSTREAM, make_broker, unique
from tests.conftest import eventually

MESSAGES = 200


# Not on a cluster: there the consumers' counts come from their several leaders at different
# moments, so their sum can count one delivery twice while it moves between lanes.
@pytest.fixture(params=[*(kind for kind in JETSTREAM if kind != "nats-cluster"), "redis"])
async def server_broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    backend = make_broker(request, request.param, "?ack_wait=1")
    await backend.connect()
    try:
        yield backend
    finally:
        await backend.close()


async def server_pending(broker: Broker, topic: str) -> int:
    """What the server counts as handed out and not settled, over the topic's group(s)."""
    if isinstance(broker, RedisBroker):
        names = TopicKeys(topic)
        async with broker.client.pipeline(transaction=True) as snapshot:  # one instant
            for lane in range(1 + await broker.partitions(topic)):
                snapshot.xinfo_groups(names.stream(lane))
            lanes = await snapshot.execute()
        return sum(info["pending"] for groups in lanes for info in groups)
    assert isinstance(broker, NatsBroker)
    consumers = await broker.jetstream.consumers_info(stream_name(topic))
    return sum(info.num_ack_pending or 0 for info in consumers)


@pytest.mark.parametrize("max_in_flight", [1, 4, 16])
async def test_the_server_never_has_more_pending_for_a_member_than_its_bound(
    server_broker: Broker, max_in_flight: int
) -> None:
    jetstream = server_broker
    topic = unique("bound.t")
    sub = await jetstream.subscribe(topic, group="bounded", max_in_flight=max_in_flight)
    for n in range(MESSAGES):  # half keyed (20 keys over the partitions), half not
        await jetstream.publish(topic, b"%d" % n, key=f"k{n % 20}" if n % 2 else None)
    release = asyncio.Event()
    counts = {"handed": 0, "done": 0, "samples": 0, "peak": 0}

    async def pending() -> int:
        return await server_pending(jetstream, topic)

    async def sample() -> None:
        while True:
            counts["peak"] = max(counts["peak"], await pending())
            counts["samples"] += 1

    async def work(delivery: Delivery) -> None:
        await release.wait()
        await delivery.ack()
        counts["done"] += 1

    async def read() -> None:
        async with asyncio.TaskGroup() as tasks:
            async for delivery in sub:
                counts["handed"] += 1
                tasks.create_task(work(delivery))

    sampler = asyncio.create_task(sample())
    reader = asyncio.create_task(read())
    try:
        await eventually(lambda: counts["handed"] >= max_in_flight)
        blocked_from = counts["samples"]
        await eventually(lambda: counts["samples"] >= blocked_from + 20)
        assert counts["handed"] == max_in_flight  # nothing more while all are held
        assert await pending() == max_in_flight  # the bound is reached, not just respected
        release.set()
        await eventually(lambda: counts["done"] == MESSAGES, timeout=60)
    finally:
        sampler.cancel()
        release.set()
        await sub.close()
        await reader
    assert counts["peak"] <= max_in_flight
    assert await pending() == 0
