"""PostgreSQL specifics: concurrent relays with SKIP LOCKED, LISTEN/NOTIFY, pools, schemas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

import interlink as il
from interlink._errors import ConfigurationError
from interlink.broker import MemoryBroker
from interlink.outbox import OutboxRelay, PostgresOutbox
from interlink.testing import FakeClock
from tests.conftest import eventually
from tests.integration.outbox.conftest import CountingBroker, published_ids

TOPIC = "orders.placed"


@pytest.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[Any]:
    created = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=4)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
async def outbox(pool: Any, table: str) -> AsyncIterator[PostgresOutbox]:
    async with PostgresOutbox(pool, table=table) as opened:
        await opened.setup()
        yield opened


async def add_many(pool: Any, outbox: PostgresOutbox, ctx: il.Context, count: int) -> list[str]:
    ids = []
    async with pool.acquire() as conn, conn.transaction():
        for i in range(count):
            ids.append((await outbox.publish(conn, ctx, TOPIC, {"n": i})).id)
    return ids


async def test_two_relays_on_one_table_publish_every_row_exactly_once(
    pool: Any, outbox: PostgresOutbox, ctx: il.Context, broker: MemoryBroker
) -> None:
    ids = await add_many(pool, outbox, ctx, 200)
    first, second = CountingBroker(broker, interleave=True), CountingBroker(broker, interleave=True)

    async with (
        OutboxRelay(outbox, first, batch=10, interval=0.01) as a,
        OutboxRelay(outbox, second, batch=10, interval=0.01) as b,
    ):
        await eventually(lambda: a.published + b.published == 200)

    assert await outbox.pending() == 0
    calls = first.calls + second.calls
    assert set(calls) == set(ids)
    assert max(calls.values()) == 1  # no row was published twice, not even as a duplicate
    assert a.published > 0
    assert b.published > 0  # both really worked the table at the same time
    assert sorted(published_ids(broker, TOPIC)) == sorted(ids)


async def test_a_commit_wakes_a_listening_relay_through_notify(
    pool: Any, outbox: PostgresOutbox, ctx: il.Context, broker: MemoryBroker
) -> None:
    # On a fake clock the relay never polls again: only the NOTIFY can wake it.
    clock = FakeClock()
    async with OutboxRelay(outbox, broker, interval=3600.0, clock=clock) as relay:
        await eventually(lambda: clock.sleepers == 1)
        await eventually(listening(pool, outbox.channel))
        [event_id] = await add_many(pool, outbox, ctx, 1)
        await eventually(lambda: relay.published == 1)

    assert published_ids(broker, TOPIC) == [event_id]


def listening(pool: Any, channel: str) -> Any:
    async def check() -> bool:
        count = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE query = $1", f'LISTEN "{channel}"'
        )
        return bool(count)

    return check


async def test_without_notify_a_commit_waits_for_the_poll(
    pool: Any, table: str, ctx: il.Context, broker: MemoryBroker
) -> None:
    clock = FakeClock()
    async with PostgresOutbox(pool, table=table, notify=False) as outbox:
        await outbox.setup()
        async with OutboxRelay(outbox, broker, interval=30.0, clock=clock) as relay:
            await eventually(lambda: clock.sleepers == 1)
            await add_many(pool, outbox, ctx, 1)
            assert relay.published == 0
            clock.advance(30.0)
            await eventually(lambda: relay.published == 1)


async def test_add_outside_a_transaction_is_refused(
    pool: Any, outbox: PostgresOutbox, ctx: il.Context
) -> None:
    envelope = ctx.event(TOPIC, {"n": 1})
    async with pool.acquire() as conn:
        with pytest.raises(ConfigurationError, match="inside a transaction"):
            await outbox.add(conn, envelope, topic=TOPIC)
    assert await outbox.pending() == 0


async def test_closing_the_outbox_leaves_the_users_pool_open(pool: Any, table: str) -> None:
    async with PostgresOutbox(pool, table=table) as outbox:
        await outbox.setup()
    assert await pool.fetchval("SELECT 1") == 1


async def test_an_outbox_given_a_dsn_opens_and_closes_its_own_pool(
    postgres_dsn: str, table: str
) -> None:
    async with PostgresOutbox(postgres_dsn, table=table) as outbox:
        await outbox.setup()
        assert await outbox.pending() == 0
    await outbox.close()  # closing twice is harmless


async def test_a_schema_qualified_table_works(
    pool: Any, table: str, ctx: il.Context, broker: MemoryBroker
) -> None:
    await pool.execute(f"CREATE SCHEMA IF NOT EXISTS {table}_s")
    async with PostgresOutbox(pool, table=f"{table}_s.events") as outbox:
        await outbox.setup()
        [event_id] = await add_many(pool, outbox, ctx, 1)
        async with OutboxRelay(outbox, broker, interval=0.01) as relay:
            await eventually(lambda: relay.published == 1)
    assert published_ids(broker, TOPIC) == [event_id]


@pytest.mark.parametrize("name", ["orders; DROP TABLE x", "1outbox", "a.b.c", ""])
def test_a_table_name_that_is_not_an_identifier_is_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match="not a plain SQL identifier"):
        PostgresOutbox("postgresql://nowhere", table=name)
