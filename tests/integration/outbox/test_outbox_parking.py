"""Parking, run against every backend: a row the broker keeps refusing is set aside after
``max_attempts`` failures while the other rows flow; later rows of its key wait behind it; a
broker that refuses everything parks nothing; parked rows are listed and can be put back."""

from __future__ import annotations

from pathlib import Path

import pytest

import interlink as il
from interlink.broker import MemoryBroker
from interlink.outbox import OutboxRelay, SqliteOutbox
from interlink.resilience import Backoff
from interlink.testing import FakeClock
from tests.conftest import eventually
from tests.integration.outbox.conftest import FlakyBroker, PickyBroker, published_ids
from tests.integration.outbox.harness import Harness

TOPIC = "orders.placed"
POISON = "orders.audit"
TINY = Backoff.constant(0.001)


async def write(harness: Harness, ctx: il.Context, key: str | None, topic: str = TOPIC) -> str:
    """Commit one event; returns its id (the row id)."""
    async with harness.transaction() as conn:
        envelope = await harness.outbox.publish(conn, ctx, topic, {"key": key}, key=key)
    return envelope.id


async def test_a_poison_row_is_parked_after_max_attempts_while_other_rows_flow(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    picky = PickyBroker(broker, refused_topics={POISON})
    clock = FakeClock()
    poison = await write(harness, ctx, "p", POISON)
    healthy = [await write(harness, ctx, "h0")]

    async with OutboxRelay(
        harness.outbox,
        picky,
        interval=3600.0,
        backoff=Backoff.constant(1.0),
        max_attempts=3,
        clock=clock,
    ) as relay:
        await eventually(lambda: relay.failures == 1 and clock.sleepers == 1)
        for n in (2, 3):  # a new event arrives before each later round
            healthy.append(await write(harness, ctx, f"h{n - 1}"))
            clock.advance(1.0)
            await eventually(lambda n=n: relay.failures == n and clock.sleepers == 1)

    refused, h0, h1, h2 = (
        (poison, False),
        (healthy[0], True),
        (healthy[1], True),
        (healthy[2], True),
    )
    # The first try of a round that fails stops it; after that the poison row waits at the back.
    assert picky.log == [refused, h0, h1, refused, h2, refused]
    assert relay.parked == 1
    row = await harness.outbox.get(poison)
    assert row is not None
    assert (row.attempts, row.sent_at) == (3, None)
    assert row.parked_at is not None
    assert row.last_error is not None
    assert "refuses 'orders.audit'" in row.last_error
    assert await harness.outbox.pending() == 0  # parked rows are not pending
    assert await harness.outbox.parked_count() == 1
    assert [r.id for r in await harness.outbox.parked()] == [poison]
    assert published_ids(broker, TOPIC) == healthy


async def test_a_broker_that_refuses_everything_parks_nothing(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    ids = [await write(harness, ctx, key) for key in ("a", "b")]
    flaky = FlakyBroker(broker, failures=12)  # an outage: four times max_attempts per row

    async with OutboxRelay(
        harness.outbox, flaky, interval=0.01, backoff=TINY, max_attempts=3
    ) as relay:
        await eventually(lambda: relay.published == 2)

    assert relay.failures == 12  # while nothing gets through, a round tries one row and stops
    assert relay.parked == 0
    assert await harness.outbox.parked_count() == 0
    assert sorted(published_ids(broker, TOPIC)) == sorted(ids)
    rows = [await harness.outbox.get(i) for i in ids]
    assert sum(r.attempts for r in rows if r is not None) == 12 + 2


async def test_a_later_row_of_the_same_key_waits_behind_a_failing_row(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    other, first, second, unkeyed = [await write(harness, ctx, k) for k in ("x", "k", "k", None)]
    picky = PickyBroker(broker)
    picky.refuse_next[first] = 2

    async with OutboxRelay(harness.outbox, picky, interval=0.01, backoff=TINY) as relay:
        await eventually(lambda: relay.published == 4)

    assert picky.log == [
        (other, True),
        (first, False),  # the round goes on past it, but not to the next row of its key
        (unkeyed, True),
        (first, False),  # alone: the later row of its key is not even claimed
        (first, True),
        (second, True),
    ]
    assert published_ids(broker, TOPIC) == [other, unkeyed, first, second]
    row = await harness.outbox.get(second)
    assert row is not None
    assert row.attempts == 1


async def test_parked_rows_are_listed_held_in_their_key_and_published_once_unparked(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    picky = PickyBroker(broker, refused_topics={POISON})
    before = await write(harness, ctx, "h")
    poison = await write(harness, ctx, "k", POISON)

    async with OutboxRelay(
        harness.outbox, picky, interval=0.01, backoff=TINY, max_attempts=1
    ) as relay:
        await eventually(lambda: relay.parked == 1)
        [parked] = await harness.outbox.parked()
        assert (parked.id, parked.topic, parked.key, parked.attempts) == (poison, POISON, "k", 1)
        assert parked.parked_at is not None
        assert await harness.outbox.pending() == 0

        behind, unrelated = await write(harness, ctx, "k"), await write(harness, ctx, "u")
        await eventually(lambda: relay.published == 2)
        assert published_ids(broker, TOPIC) == [before, unrelated]
        assert await harness.outbox.pending() == 1  # ``behind`` waits for the parked row

        picky.refused_topics.clear()
        assert await harness.outbox.unpark("no-such-id") == 0
        assert await harness.outbox.unpark(poison) == 1
        relay.wake()
        await eventually(lambda: relay.published == 4)

    assert [i for i, _ in picky.log[-2:]] == [poison, behind]
    assert await harness.outbox.parked_count() == 0
    row = await harness.outbox.get(poison)
    assert row is not None
    assert (row.parked_at, row.attempts) == (None, 1)  # attempts start again from 0
    assert row.sent_at is not None


async def test_unpark_without_an_id_puts_every_parked_row_back(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    picky = PickyBroker(broker, refused_topics={POISON})
    await write(harness, ctx, None)
    poison = [await write(harness, ctx, None, POISON) for _ in range(3)]

    async with OutboxRelay(
        harness.outbox, picky, interval=0.01, backoff=TINY, max_attempts=1
    ) as relay:
        await eventually(lambda: relay.parked == 3)
    assert [r.id for r in await harness.outbox.parked(limit=2)] == poison[:2]

    assert await harness.outbox.unpark() == 3
    assert await harness.outbox.parked_count() == 0
    assert await harness.outbox.pending() == 3
    assert await harness.outbox.unpark() == 0


OLD_TABLES = {  # the table as setup() made it before parking existed
    "sqlite": """
        CREATE TABLE {t} (
            seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL, key TEXT,
            body BLOB NOT NULL, created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            sent_at REAL, last_error TEXT
        )""",
    "postgres": """
        CREATE TABLE {t} (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,
            topic TEXT NOT NULL, key TEXT, body BYTEA NOT NULL, created_at TIMESTAMPTZ NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, sent_at TIMESTAMPTZ, last_error TEXT
        )""",
}


async def test_setup_adds_parking_to_a_table_made_before_it(
    harness: Harness, ctx: il.Context, broker: MemoryBroker
) -> None:
    table = harness.outbox.table
    async with harness.transaction() as conn:
        await conn.execute(f"DROP TABLE {table}")
        await conn.execute(OLD_TABLES[harness.name].format(t=table))
    healthy, poison = await write(harness, ctx, "h"), await write(harness, ctx, "p", POISON)

    await harness.outbox.setup()
    await harness.outbox.setup()  # and again, as every start does

    row = await harness.outbox.get(poison)
    assert row is not None
    assert row.parked_at is None
    assert await harness.outbox.pending() == 2
    picky = PickyBroker(broker, refused_topics={POISON})
    async with OutboxRelay(
        harness.outbox, picky, interval=0.01, backoff=TINY, max_attempts=1
    ) as relay:
        await eventually(lambda: relay.parked == 1)
    assert published_ids(broker, TOPIC) == [healthy]
    assert [r.id for r in await harness.outbox.parked()] == [poison]


@pytest.mark.parametrize("max_attempts", [0, -1])
def test_max_attempts_below_one_is_refused(tmp_path: Path, max_attempts: int) -> None:
    with pytest.raises(ValueError, match="max_attempts must be at least 1"):
        OutboxRelay(SqliteOutbox(tmp_path / "app.db"), MemoryBroker(), max_attempts=max_attempts)
