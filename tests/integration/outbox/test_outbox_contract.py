"""The outbox contract, run against every backend (SQLite, and PostgreSQL when available)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import pytest

import interlink as il
from interlink.broker import MemoryBroker
from interlink.outbox import OutboxRelay
from interlink.resilience import Backoff
from interlink.testing import FakeClock
from tests.conftest import eventually
from tests.integration.outbox.conftest import FlakyBroker, published_ids
from tests.integration.outbox.harness import Harness

TOPIC = "orders.placed"


async def write_event(harness: Harness, ctx: il.Context, order_id: str) -> il.Envelope:
    async with harness.transaction() as conn:
        await harness.insert_order(conn, order_id)
        return await harness.outbox.publish(conn, ctx, TOPIC, {"order": order_id}, key=order_id)


async def write_then_fail(harness: Harness, ctx: il.Context, written: list[il.Envelope]) -> None:
    async with harness.transaction() as conn:
        await harness.insert_order(conn, "o1")
        written.append(await harness.outbox.publish(conn, ctx, TOPIC, {"order": "o1"}))
        raise RuntimeError("payment declined")


def drained(harness: Harness) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await harness.outbox.pending() == 0

    return check


async def test_a_committed_event_is_published_then_marked_sent(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    envelope = await write_event(harness, ctx, "o1")
    assert await harness.outbox.pending() == 1

    async with OutboxRelay(harness.outbox, broker, interval=0.01):
        await eventually(drained(harness))

    [message] = broker.messages(TOPIC)
    assert message.body == envelope.to_bytes()
    assert message.key == "o1" == envelope.partitionkey
    row = await harness.outbox.get(envelope.id)
    assert row is not None
    assert (row.topic, row.key, row.body) == (TOPIC, "o1", envelope.to_bytes())
    assert row.sent_at is not None
    assert row.sent_at >= row.created_at
    assert (row.attempts, row.last_error) == (1, None)


async def test_a_rolled_back_transaction_leaves_no_row_and_publishes_nothing(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    written: list[il.Envelope] = []
    with pytest.raises(RuntimeError, match="payment declined"):
        await write_then_fail(harness, ctx, written)
    later = await write_event(harness, ctx, "o2")

    assert await harness.outbox.get(written[0].id) is None
    async with OutboxRelay(harness.outbox, broker, interval=0.01):
        await eventually(drained(harness))

    # Oldest first: once the later event is out, the relay has passed everything before it.
    assert published_ids(broker, TOPIC) == [later.id]
    assert await harness.order_ids() == ["o2"]


async def test_rows_are_published_oldest_first_across_batches(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    written = [await write_event(harness, ctx, f"o{i}") for i in range(7)]

    async with OutboxRelay(harness.outbox, broker, batch=3, interval=0.01) as relay:
        await eventually(drained(harness))

    assert published_ids(broker, TOPIC) == [e.id for e in written]
    assert relay.published == 7


async def test_a_broker_failure_is_retried_with_bounded_backoff_and_recorded(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    clock = FakeClock()
    flaky = FlakyBroker(broker, failures=4)
    backoff = Backoff.exponential(initial=1.0, multiplier=2.0, max_delay=4.0, jitter="none")
    envelope = await write_event(harness, ctx, "o1")
    waits: list[float] = []

    async with OutboxRelay(
        harness.outbox, flaky, interval=60.0, backoff=backoff, clock=clock
    ) as relay:
        while not broker.messages(TOPIC):
            await eventually(lambda: clock.sleepers > 0 or bool(broker.messages(TOPIC)))
            if clock.sleepers and relay.failures > len(waits):
                deadline = clock.next_deadline()
                assert deadline is not None
                waits.append(deadline - clock.monotonic())
                clock.advance(waits[-1])
        await eventually(drained(harness))

    assert waits == [1.0, 2.0, 4.0, 4.0]  # exponential, capped at max_delay
    assert published_ids(broker, TOPIC) == [envelope.id]
    row = await harness.outbox.get(envelope.id)
    assert row is not None
    assert row.attempts == 5
    assert row.last_error is not None
    assert "broker unavailable (call 4)" in row.last_error
    assert relay.failures == 4


async def test_a_failing_row_goes_behind_the_rows_of_other_keys(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    first, second = await write_event(harness, ctx, "o1"), await write_event(harness, ctx, "o2")
    flaky = FlakyBroker(broker, failures=1)
    tiny = Backoff.constant(0.001)

    async with OutboxRelay(harness.outbox, flaky, interval=0.01, backoff=tiny):
        await eventually(drained(harness))

    # Keys o1 and o2 need no order between them (same-key order: test_outbox_parking.py).
    assert published_ids(broker, TOPIC) == [second.id, first.id]
    rows = [await harness.outbox.get(e.id) for e in (first, second)]
    assert [r.attempts for r in rows if r is not None] == [2, 1]


async def test_wake_publishes_at_once_without_waiting_for_the_poll(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    async with OutboxRelay(harness.outbox, broker, interval=3600.0, clock=FakeClock()) as relay:
        await eventually(lambda: relay.failures == 0)
        envelope = await write_event(harness, ctx, "o1")
        relay.wake()
        await eventually(lambda: bool(broker.messages(TOPIC)))

    assert published_ids(broker, TOPIC) == [envelope.id]


class GatedBroker:
    """Holds every publish until the test opens the gate."""

    def __init__(self, inner: MemoryBroker) -> None:
        self.url = "gated+memory://"
        self.inner = inner
        self.gate = asyncio.Event()
        self.waiting = 0

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        self.waiting += 1
        await self.gate.wait()
        await self.inner.publish(topic, body, key=key, message_id=message_id)


async def test_stopping_finishes_the_batch_in_flight_and_leaks_no_task(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    written = [await write_event(harness, ctx, f"o{i}") for i in range(3)]
    gated = GatedBroker(broker)
    before = asyncio.all_tasks()
    relay = OutboxRelay(harness.outbox, gated, interval=0.01)
    await relay.__aenter__()
    await eventually(lambda: gated.waiting == 1)

    stopping = asyncio.create_task(relay.__aexit__(None, None, None))
    await eventually(lambda: relay.published == 0 and not stopping.done())
    gated.gate.set()
    await stopping

    assert published_ids(broker, TOPIC) == [e.id for e in written]
    assert await harness.outbox.pending() == 0
    assert asyncio.all_tasks() <= before | {stopping}


async def test_a_batch_that_cannot_drain_in_time_is_cancelled_and_kept(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    envelope = await write_event(harness, ctx, "o1")
    gated = GatedBroker(broker)  # the gate never opens: a broker that hangs
    clock = FakeClock()
    before = asyncio.all_tasks()
    relay = OutboxRelay(harness.outbox, gated, drain_timeout=5.0, clock=clock)
    await relay.__aenter__()
    await eventually(lambda: gated.waiting == 1)

    stopping = asyncio.create_task(relay.stop())
    await eventually(lambda: clock.sleepers == 1)
    clock.advance(5.0)
    await stopping

    assert broker.messages(TOPIC) == []
    row = await harness.outbox.get(envelope.id)
    assert row is not None
    assert row.sent_at is None
    assert asyncio.all_tasks() <= before | {stopping}


async def test_prune_deletes_only_sent_rows_older_than_the_cutoff(
    make_harness: Callable[..., Harness], ctx: il.Context, broker: MemoryBroker
) -> None:
    clock = FakeClock()
    harness = make_harness(clock=clock)
    await harness.open()
    try:
        old = [await write_event(harness, ctx, f"o{i}") for i in range(2)]
        async with OutboxRelay(harness.outbox, broker, interval=0.01):
            await eventually(drained(harness))
        clock.advance(100.0)
        recent = await write_event(harness, ctx, "o-recent")
        async with OutboxRelay(harness.outbox, broker, interval=0.01):
            await eventually(drained(harness))
        unsent = await write_event(harness, ctx, "o-unsent")
        clock.advance(100.0)

        assert await harness.outbox.prune(older_than=150.0) == 2
        assert [await harness.outbox.get(e.id) for e in old] == [None, None]
        assert await harness.outbox.get(recent.id) is not None
        assert await harness.outbox.prune(older_than=0) == 1
        assert await harness.outbox.get(unsent.id) is not None
        assert await harness.outbox.pending() == 1
    finally:
        await harness.close()


async def test_setup_is_idempotent(harness: Harness) -> None:
    await harness.outbox.setup()
    assert await harness.outbox.pending() == 0


async def rename_table(harness: Harness, old: str, new: str) -> None:
    async with harness.transaction() as conn:
        await conn.execute(f"ALTER TABLE {old} RENAME TO {new}")


async def test_the_relay_outlives_a_database_failure_and_resumes(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    envelope = await write_event(harness, ctx, "o1")
    table = harness.outbox.table
    await rename_table(harness, table, f"{table}_away")  # every relay query now fails
    clock = FakeClock()

    async with OutboxRelay(
        harness.outbox, broker, backoff=Backoff.constant(1.0), clock=clock
    ) as relay:
        await eventually(lambda: relay.failures == 1 and clock.sleepers == 1)
        await rename_table(harness, f"{table}_away", table)
        clock.advance(1.0)
        await eventually(drained(harness))

    assert published_ids(broker, TOPIC) == [envelope.id]
    assert relay.failures == 1
