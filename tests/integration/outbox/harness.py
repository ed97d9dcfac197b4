"""One small driver per database, so the contract suite runs the same tests on each.

A harness owns an outbox, a connection for "business" writes, and an ``orders`` table that
stands for the user's own data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.outbox import Outbox, PostgresOutbox, SqliteOutbox


class SqliteHarness:
    name = "sqlite"

    def __init__(self, path: Path, table: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = path
        self.location = str(path)
        self.orders = f"{table}_orders"
        self.outbox: Outbox[Any] = SqliteOutbox(path, table=table, clock=clock)
        self._conn: aiosqlite.Connection | None = None

    async def open(self) -> None:
        await self.outbox.setup()
        self._conn = await aiosqlite.connect(self.path)
        await self._conn.execute(f"CREATE TABLE IF NOT EXISTS {self.orders} (id TEXT PRIMARY KEY)")
        await self._conn.commit()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """The user's transaction: committed when the block ends, rolled back if it raises."""
        assert self._conn is not None
        try:
            yield self._conn
        except BaseException:
            await self._conn.rollback()
            raise
        await self._conn.commit()

    async def insert_order(self, conn: Any, order_id: str) -> None:
        await conn.execute(f"INSERT INTO {self.orders} (id) VALUES (?)", (order_id,))

    async def order_ids(self) -> list[str]:
        assert self._conn is not None
        async with self._conn.execute(f"SELECT id FROM {self.orders} ORDER BY id") as cursor:
            return [row[0] for row in await cursor.fetchall()]

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
        await self.outbox.close()


class PostgresHarness:
    name = "postgres"

    def __init__(self, dsn: str, table: str, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.dsn = dsn
        self.location = dsn
        self.orders = f"{table}_orders"
        self.outbox: Outbox[Any] = PostgresOutbox(dsn, table=table, clock=clock)
        self._pool: Any = None

    async def open(self) -> None:
        await self.outbox.setup()
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=2)
        await self._pool.execute(f"CREATE TABLE IF NOT EXISTS {self.orders} (id TEXT PRIMARY KEY)")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def insert_order(self, conn: Any, order_id: str) -> None:
        await conn.execute(f"INSERT INTO {self.orders} (id) VALUES ($1)", order_id)

    async def order_ids(self) -> list[str]:
        rows = await self._pool.fetch(f"SELECT id FROM {self.orders} ORDER BY id")
        return [row["id"] for row in rows]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        await self.outbox.close()


Harness = SqliteHarness | PostgresHarness


def open_harness(backend: str, location: str, table: str) -> Harness:
    """The harness another process builds to reach the same database and tables."""
    if backend == "sqlite":
        return SqliteHarness(Path(location), table)
    return PostgresHarness(location, table)
