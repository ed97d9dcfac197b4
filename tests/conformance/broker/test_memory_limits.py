"""Memory-backend specifics: bounded buffers with backpressure, all-or-nothing fan-out,
in-flight bounds, idle tracking, retention."""

from __future__ import annotations

import asyncio

import pytest

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


async def test_a_publish_cancelled_while_waiting_reaches_no_group() -> None:
    async with MemoryBroker(max_pending=1) as broker:
        a = await broker.subscribe("t", group="a", max_in_flight=10)
        b = await broker.subscribe("t", group="b", max_in_flight=10)
        await broker.publish("t", b"1")
        await anext(a)  # group a has room again; group b is still full
        stuck = asyncio.create_task(broker.publish("t", b"2", message_id="m2"))
        for _ in range(20):  # no I/O involved: a few loop turns are enough to observe it
            await asyncio.sleep(0)
        assert not stuck.done(), "publisher should wait while group b is full"
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        assert broker.outstanding == 2, "only '1' (held by a, queued for b): '2' reached no group"
        assert [m.body for m in broker.messages("t")] == [b"1"]
        await anext(b)
        await broker.publish("t", b"2", message_id="m2")  # the retry is no duplicate
        assert (await asyncio.wait_for(anext(a), 1)).body == b"2"
        assert (await asyncio.wait_for(anext(b), 1)).body == b"2"
        await a.close()
        await b.close()


async def test_a_member_takes_no_more_than_max_in_flight() -> None:
    async with MemoryBroker() as broker:
        sub = await broker.subscribe("t", group="g", max_in_flight=3)
        for n in range(5):
            await broker.publish("t", b"%d" % n)
        held = [await anext(sub) for _ in range(3)]
        fourth = asyncio.create_task(anext(sub))
        for _ in range(20):  # no I/O involved: a few loop turns are enough to observe it
            await asyncio.sleep(0)
        assert not fourth.done(), "a fourth delivery while three are unsettled"
        await held[0].nack()  # a nack settles it for this member, like an ack
        delivery = await asyncio.wait_for(fourth, 1)
        assert delivery.body == b"3"
        await sub.close()
