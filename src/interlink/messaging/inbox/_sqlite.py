"""The inbox in a SQLite database file, next to a :class:`~interlink.outbox.SqliteOutbox`.

Transactions start with ``BEGIN IMMEDIATE``, which takes SQLite's single write lock at once:
writers run one after another (across processes too, each waiting up to ``busy_timeout``), so a
transaction that read first can never fail to upgrade to a writer halfway through, and a claim
is decided against every commit before it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink._errors import ConfigurationError
from interlink.messaging.inbox._base import Database, Transaction
from interlink.messaging.inbox._keys import claim_keys
from interlink.messaging.inbox._sqlite_pool import SqlitePool, Synchronous
from interlink.outbox import SqliteOutbox
from interlink.outbox._base import table_name
from interlink.resilience._config import Seconds, seconds

if TYPE_CHECKING:
    import aiosqlite

    from interlink._envelope import Envelope

__all__ = ["SqliteDatabase"]

_PREFIX = "sqlite:///"


class SqliteDatabase(Database):
    """``SqliteDatabase("sqlite:///billing.db")`` (relative) or ``"sqlite:////srv/billing.db"``.

    ``pool_size`` connections at most (one writes at a time; the others read, or wait their
    turn). ``synchronous="NORMAL"`` keeps every commit across a process crash; ``"FULL"`` also
    across a power loss, at the cost of a sync per commit.
    """

    outbox: SqliteOutbox

    def __init__(
        self,
        url: str,
        *,
        table: str = "interlink_inbox",
        outbox_table: str = "interlink_outbox",
        pool_size: int = 4,
        busy_timeout: Seconds = 5.0,
        synchronous: Synchronous = "NORMAL",
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size!r}")
        if synchronous not in ("NORMAL", "FULL"):
            raise ConfigurationError(f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}")
        self.url = url
        self.path = sqlite_path(url)
        self.table = table_name(table, qualified=False, what="inbox")
        timeout = seconds(busy_timeout, "busy_timeout")
        self.outbox = SqliteOutbox(self.path, table=outbox_table, busy_timeout=timeout, clock=clock)
        self._clock = clock
        self._size, self._timeout, self._synchronous = pool_size, timeout, synchronous
        self._pool: SqlitePool | None = None
        self._writer = asyncio.Lock()
        self._opening = asyncio.Lock()

    async def open(self) -> None:
        async with self._opening:  # two tasks opening at once must not build two pools
            if self._pool is None:
                self._pool = await self._connect()

    async def _connect(self) -> SqlitePool:
        pool = SqlitePool(
            self.path, size=self._size, busy_timeout=self._timeout, synchronous=self._synchronous
        )
        try:
            async with pool.connection() as conn:  # the first connection turns WAL on
                await self._create(conn)
            await self.outbox.setup()
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _create(self, conn: aiosqlite.Connection) -> None:
        t = self.table
        await conn.executescript(
            f"""
            CREATE TABLE IF NOT EXISTS {t} (
                scope TEXT NOT NULL,
                id TEXT NOT NULL,
                processed_at REAL NOT NULL,
                PRIMARY KEY (scope, id)
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS {t}_processed_at ON {t} (processed_at);
            """
        )

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
        await self.outbox.close()
        # Closed, it may be opened again under another event loop (one per test): fresh locks.
        self._writer, self._opening = asyncio.Lock(), asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        # SQLite has one writer at a time. Queueing this process's writers here, rather than
        # letting them race for the file lock, spares them SQLite's busy-wait sleeps.
        async with self._writer, self._opened().connection() as conn:
            try:
                await conn.execute("BEGIN IMMEDIATE")
                yield _SqliteTransaction(conn, self)
                await conn.execute("COMMIT")
            except BaseException:
                # Also after a cancelled BEGIN or COMMIT: it still runs on the connection's
                # thread, and this ROLLBACK runs after it.
                await _rollback(conn)
                raise

    async def processed(self, scope: str, message_id: str) -> bool:
        sql = f"SELECT 1 FROM {self.table} WHERE scope = ? AND id = ?"
        async with (
            self._opened().connection() as conn,
            conn.execute(sql, claim_keys(scope, message_id)) as cursor,
        ):
            return await cursor.fetchone() is not None

    async def prune(self, *, older_than: Seconds) -> int:
        cutoff = self._clock.time() - seconds(older_than, "older_than")
        sql = f"DELETE FROM {self.table} WHERE processed_at < ?"
        async with self._opened().connection() as conn, conn.execute(sql, (cutoff,)) as cursor:
            return int(cursor.rowcount)

    def _opened(self) -> SqlitePool:
        if self._pool is None:
            raise RuntimeError(f"{self!r} is not open: `await db.open()` or `async with db:`")
        return self._pool

    def __repr__(self) -> str:
        return f"SqliteDatabase({self.url!r}, table={self.table!r})"


@dataclass(slots=True)
class _SqliteTransaction:
    connection: aiosqlite.Connection
    database: SqliteDatabase

    async def claim(self, scope: str, message_id: str) -> bool:
        sql = (
            f"INSERT INTO {self.database.table} (scope, id, processed_at) VALUES (?, ?, ?) "
            "ON CONFLICT (scope, id) DO NOTHING"
        )
        params = (*claim_keys(scope, message_id), self.database._clock.time())
        async with self.connection.execute(sql, params) as cursor:
            return cursor.rowcount == 1

    async def add_event(self, envelope: Envelope, *, topic: str) -> None:
        await self.database.outbox.add(self.connection, envelope, topic=topic)


async def _rollback(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.OperationalError:  # BEGIN never ran, or COMMIT already ended it
        if conn.in_transaction:
            raise


def sqlite_path(url: str) -> str:
    """The file a ``sqlite:///path`` URL names (``sqlite:////abs/path`` for an absolute one)."""
    path = url.removeprefix(_PREFIX) if url.startswith(_PREFIX) else ""
    if path in ("", ":memory:") or path.startswith("file::memory:") or "?" in path:
        raise ConfigurationError(
            f"bad SQLite database URL {url!r}: expected 'sqlite:///relative/path.db' or "
            "'sqlite:////absolute/path.db' (a file: every connection of the pool, and the "
            "outbox relay, must see the same database; no query string)"
        )
    return path
