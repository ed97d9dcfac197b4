"""Memory-backend specifics: bounded buffers with backpressure, idle tracking, retention."""

from __future__ import annotations

import asyncio

from interlink.broker import MemoryBroker


async def test_a_full_group_makes_the_publisher_wait() -> None:
    async with MemoryBroker(max_pending=2) as broker:
        sub = await broker.subscribe("t", group="g", max_in_flight=10)
        await broker.publish("t", b"1")
        await broker.publish("t", b"2")
        third = asyncio.create_task(broker.publish("t", b"3"))
        for _ in range(20):  # no I/O involved: a few loop turns are enough to observe it
            await asyncio.sleep(0)
        assert not third.done(), "publisher should wait while the group is full"
        first = await anext(sub)
        await asyncio.wait_for(third, 2)
        await first.ack()
        await sub.close()


async def test_idle_tracks_unsettled_deliveries() -> None:
    async with MemoryBroker() as broker:
        sub = await broker.subscribe("t", group="g", max_in_flight=10)
        await broker.publish("t", b"x")
        assert broker.outstanding == 1
        delivery = await anext(sub)
        await delivery.nack()
        assert broker.outstanding == 1
        delivery = await anext(sub)
        await delivery.ack()
        await asyncio.wait_for(broker.wait_idle(), 1)
        assert broker.outstanding == 0
        await sub.close()


async def test_retention_is_bounded() -> None:
    async with MemoryBroker(retain=3) as broker:
        for i in range(5):
            await broker.publish("t", str(i).encode())
        assert [m.body for m in broker.messages("t")] == [b"2", b"3", b"4"]
