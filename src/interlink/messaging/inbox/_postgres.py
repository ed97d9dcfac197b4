"""The inbox in PostgreSQL, next to a :class:`~interlink.outbox.PostgresOutbox`.

A claim is ``INSERT … ON CONFLICT DO NOTHING`` on the primary key (scope, id). When another
transaction has inserted the same key and not ended yet, the insert waits for it: if it
commits, the insert does nothing (a duplicate, False); if it rolls back, the insert goes ahead
(True). So of any number of concurrent claims of one id, exactly one commits. This holds at
PostgreSQL's default isolation (READ COMMITTED); under REPEATABLE READ or SERIALIZABLE the
waiting claim fails with a serialization error instead, and the message is retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.messaging.inbox._base import Database, Transaction
from interlink.messaging.inbox._keys import claim_keys
from interlink.outbox import PostgresOutbox
from interlink.outbox._base import load_driver, table_name
from interlink.resilience._config import Seconds, seconds

if TYPE_CHECKING:
    from interlink._envelope import Envelope
    from interlink.outbox._postgres import PgConnection, PgPool

__all__ = ["PostgresDatabase"]


class PostgresDatabase(Database):
    """``PostgresDatabase("postgresql://user:password@host:5432/db")`` (``postgres://`` too;
    the URL goes to asyncpg as it is, query parameters such as ``sslmode`` included).

    Transactions run on a pool of at most ``pool_size`` connections that the database opens
    itself. The outbox relay reads through a small pool of its own (see
    :class:`~interlink.outbox.PostgresOutbox`), so it never takes a handler's connection.
    ``table`` may be schema-qualified.
    """

    outbox: PostgresOutbox

    def __init__(
        self,
        url: str,
        *,
        table: str = "interlink_inbox",
        outbox_table: str = "interlink_outbox",
        pool_size: int = 10,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size!r}")
        self.url = url
        self.table = table_name(table, qualified=True, what="inbox")
        self.outbox = PostgresOutbox(url, table=outbox_table, clock=clock)
        self._index = self.table.rpartition(".")[2]
        self._clock = clock
        self._size = pool_size
        self._pool: PgPool | None = None
        self._opening = asyncio.Lock()

    async def open(self) -> None:
        async with self._opening:  # two tasks opening at once must not build two pools
            if self._pool is None:
                self._pool = await self._connect()

    async def _connect(self) -> PgPool:
        driver = load_driver("asyncpg", "postgres", what="a PostgreSQL database")
        pool: PgPool = await driver.create_pool(self.url, min_size=1, max_size=self._size)
        try:
            async with pool.acquire() as conn:
                await self._create(conn)
            await self.outbox.setup()
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _create(self, conn: PgConnection) -> None:
        t = self.table
        async with conn.transaction():
            # Two processes starting together would otherwise race on CREATE TABLE.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", t)
            await conn.execute(
                f"""
                CREATE TABLE IF NOT EXISTS {t} (
                    scope TEXT NOT NULL,
                    id TEXT NOT NULL,
                    processed_at TIMESTAMPTZ NOT NULL,
                    PRIMARY KEY (scope, id)
                );
                CREATE INDEX IF NOT EXISTS {self._index}_processed_at ON {t} (processed_at);
                """
            )

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
        await self.outbox.close()
        self._opening = asyncio.Lock()  # it may be opened again under another event loop

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        # asyncpg's transaction rolls back on any exception, cancellation included, and its
        # pool resets (or drops) a connection that comes back still inside a transaction.
        async with self._opened().acquire() as conn, conn.transaction():
            yield _PostgresTransaction(conn, self)

    async def processed(self, scope: str, message_id: str) -> bool:
        sql = f"SELECT 1 FROM {self.table} WHERE scope = $1 AND id = $2"
        async with self._opened().acquire() as conn:
            return await conn.fetchval(sql, *claim_keys(scope, message_id)) is not None

    async def prune(self, *, older_than: Seconds) -> int:
        cutoff = self._clock.time() - seconds(older_than, "older_than")
        sql = f"DELETE FROM {self.table} WHERE processed_at < $1"
        async with self._opened().acquire() as conn:
            status = await conn.execute(sql, datetime.fromtimestamp(cutoff, UTC))
        return int(status.rpartition(" ")[2])

    def _opened(self) -> PgPool:
        if self._pool is None:
            raise RuntimeError(f"{self!r} is not open: `await db.open()` or `async with db:`")
        return self._pool

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), UTC)

    def __repr__(self) -> str:
        return f"PostgresDatabase(table={self.table!r})"  # the URL may hold a password


@dataclass(slots=True)
class _PostgresTransaction:
    connection: PgConnection
    database: PostgresDatabase

    async def claim(self, scope: str, message_id: str) -> bool:
        sql = (
            f"INSERT INTO {self.database.table} (scope, id, processed_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (scope, id) DO NOTHING RETURNING 1"
        )
        keys = claim_keys(scope, message_id)
        return await self.connection.fetchval(sql, *keys, self.database._now()) is not None

    async def add_event(self, envelope: Envelope, *, topic: str) -> None:
        await self.database.outbox.add(self.connection, envelope, topic=topic)
