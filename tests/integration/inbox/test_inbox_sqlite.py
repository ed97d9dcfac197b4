"""SQLite specifics: WAL and its durability setting, writers serialised by BEGIN IMMEDIATE across
databases (processes) on one file, and the busy timeout."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from interlink._errors import ConfigurationError
from interlink.messaging.inbox import Database
from interlink.messaging.inbox._sqlite_pool import SqlitePool
from tests.integration.inbox.effects import SCOPE


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    async with Database(url) as opened:
        yield opened


async def pragma(db: Database, name: str) -> object:
    async with db.transaction() as tx, tx.connection.execute(f"PRAGMA {name}") as cursor:
        row = await cursor.fetchone()
    return row[0]


async def test_connections_use_wal_and_synchronous_normal_by_default(db: Database) -> None:
    assert await pragma(db, "journal_mode") == "wal"
    assert await pragma(db, "synchronous") == 1  # NORMAL


async def test_synchronous_full_is_available_for_power_loss_durability(url: str) -> None:
    async with Database(url, synchronous="FULL") as db:
        assert await pragma(db, "synchronous") == 2  # FULL


async def test_a_writer_on_another_connection_waits_its_turn_then_sees_the_claim(
    db: Database, url: str
) -> None:
    # Two Database objects on one file stand for two processes: they share only SQLite's lock.
    async with Database(url) as other:
        first_claimed = asyncio.Event()

        async def second() -> bool:
            await first_claimed.wait()
            async with other.transaction() as tx:
                await tx.connection.execute("SELECT count(*) FROM interlink_inbox")
                return await tx.claim(SCOPE, "m1")

        task = asyncio.create_task(second())
        async with db.transaction() as tx:
            assert await tx.claim(SCOPE, "m1") is True
            first_claimed.set()
            await asyncio.sleep(0.05)  # let the second writer reach SQLite's lock
            assert not task.done()
        assert await task is False


async def test_a_writer_held_up_longer_than_busy_timeout_fails_instead_of_hanging(
    db: Database, url: str
) -> None:
    async with Database(url, busy_timeout=0.05) as impatient:
        async with db.transaction() as tx:
            await tx.claim(SCOPE, "m1")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                async with impatient.transaction() as other:
                    await other.claim(SCOPE, "m1")
        async with impatient.transaction() as other:  # its connection is still usable
            assert await other.claim(SCOPE, "m1") is False


def test_pool_size_and_synchronous_are_checked() -> None:
    with pytest.raises(ValueError, match="pool_size"):
        Database("sqlite:///billing.db", pool_size=0)
    with pytest.raises(ConfigurationError, match="synchronous must be 'NORMAL' or 'FULL'"):
        Database("sqlite:///billing.db", synchronous="OFF")


async def test_a_cancelled_transaction_rolls_back_on_its_connection_and_keeps_it(url: str) -> None:
    async with Database(url, pool_size=1) as db:
        inside = asyncio.Event()
        connections = []

        async def handler() -> None:
            async with db.transaction() as tx:
                connections.append(tx.connection)
                await tx.claim(SCOPE, "m1")
                inside.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(handler())
        await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with db.transaction() as tx:  # not a reconnect: the ROLLBACK ran on it
            assert tx.connection is connections[0]
            assert await tx.claim(SCOPE, "m1") is True


async def test_a_connection_handed_back_inside_a_transaction_is_closed_not_reused(
    tmp_path: Path,
) -> None:
    pool = SqlitePool(str(tmp_path / "app.db"), size=1, busy_timeout=0.05, synchronous="NORMAL")
    try:
        async with pool.connection() as first:
            await first.execute("BEGIN IMMEDIATE")
        async with pool.connection() as second:
            assert second is not first
            await second.execute("BEGIN IMMEDIATE")  # closing the first released the lock
            await second.execute("ROLLBACK")
    finally:
        await pool.close()
