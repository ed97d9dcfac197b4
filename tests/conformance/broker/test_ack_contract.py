"""An acknowledged delivery is finished at the broker: nothing is left pending or redelivered."""

from __future__ import annotations

import interlink as il
from interlink.broker import Broker, KafkaBroker, MemoryBroker, RabbitBroker, RedisBroker
from interlink.broker._nats import NatsBroker
from interlink.broker._nats_streams import stream_name
from interlink.broker._redis_layout import TopicKeys
from tests.conformance.broker.conftest import Backend, unique
from tests.conftest import eventually


async def unacknowledged(broker: Broker, topic: str, group: str) -> int:
    """What the broker still waits to hear about, for every group of ``topic``."""
    if isinstance(broker, RabbitBroker):
        # Ready messages only: an unacknowledged one is ready again once its channel closed.
        channel = await broker.connection.channel()
        names = [f"il.{topic}.{group}"] + [
            f"il.{topic}.{group}.p{n}" for n in range(broker.settings.partitions)
        ]
        total = 0
        for name in names:
            queue = await channel.declare_queue(name, passive=True)
            total += queue.declaration_result.message_count or 0
        await channel.close()
        return total
    if isinstance(broker, MemoryBroker):
        return broker.outstanding
    if isinstance(broker, KafkaBroker):
        return await broker.lag(topic, group)
    if isinstance(broker, RedisBroker):
        names = TopicKeys(topic)
        total = 0
        for lane in range(1 + await broker.partitions(topic)):
            for info in await broker.client.xinfo_groups(names.stream(lane)):
                total += info["pending"] + (info["lag"] or 0)
        return total
    assert isinstance(broker, NatsBroker)
    infos = await broker.jetstream.consumers_info(stream_name(topic))
    return sum(info.num_ack_pending + info.num_pending for info in infos)


async def test_handled_messages_are_acknowledged_at_the_broker(backend: Backend) -> None:
    topic = unique("acked.t")
    handled: list[int] = []
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, max_in_flight=8)
    async def work(n: int) -> None:
        handled.append(n)

    async with backend.app([svc]) as app:
        for n in range(20):
            await app.publish(topic, n, key=f"k{n % 3}" if n % 2 else None)
        await eventually(lambda: len(handled) == 20)

        async def settled() -> bool:
            return await unacknowledged(backend.inspect, topic, svc.name) == 0

        await eventually(settled, timeout=5)
    assert sorted(handled) == list(range(20))
    assert await unacknowledged(backend.inspect, topic, svc.name) == 0
