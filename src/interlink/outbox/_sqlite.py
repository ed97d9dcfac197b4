"""SQLite outbox: rows written on the user's aiosqlite connection, relayed by one process.

SQLite has one writer at a time and no ``SKIP LOCKED``: run one relay per database file. A
second relay would only waste work, because every publish carries ``message_id=row.id`` and
the broker drops the copy.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink._errors import ConfigurationError
from interlink.outbox._base import (
    Claim,
    Outbox,
    OutboxRow,
    load_driver,
    ready_rows,
    table_name,
)
from interlink.resilience._config import Seconds, seconds

if TYPE_CHECKING:
    import aiosqlite

    from interlink._envelope import Envelope

__all__ = ["SqliteOutbox"]

_INDEXES = (
    "CREATE INDEX IF NOT EXISTS {t}_unsent ON {t} (seq) WHERE sent_at IS NULL",
    "CREATE INDEX IF NOT EXISTS {t}_sent ON {t} (sent_at) WHERE sent_at IS NOT NULL",
    # For claim()'s look back at older rows of the same key, and for listing parked rows.
    "CREATE INDEX IF NOT EXISTS {t}_keys ON {t} (key, seq) WHERE sent_at IS NULL",
    "CREATE INDEX IF NOT EXISTS {t}_parked ON {t} (seq) WHERE parked_at IS NOT NULL",
)

_COLUMNS = "id, topic, key, body, created_at, attempts, sent_at, last_error, parked_at"


class SqliteOutbox(Outbox["aiosqlite.Connection"]):
    """An outbox table in a SQLite database file.

    ::

        outbox = SqliteOutbox("shop.db")
        await outbox.setup()
        async with aiosqlite.connect("shop.db") as db:
            await db.execute("INSERT INTO orders ...")
            await outbox.publish(db, ctx, "orders.placed", OrderPlaced(...), key=order_id)
            await db.commit()                 # the order and its event, or neither

    The relay reads through a connection of its own, opened on first use and closed by
    :meth:`close`. ``busy_timeout`` is how long it waits for the user's writers to commit.
    """

    def __init__(
        self,
        database: str | os.PathLike[str],
        *,
        table: str = "interlink_outbox",
        busy_timeout: Seconds = 5.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        path = os.fspath(database)
        if path == ":memory:" or path.startswith("file::memory:"):
            raise ConfigurationError(
                "an in-memory SQLite database is private to one connection; "
                "the outbox relay needs a database file"
            )
        self.database = path
        self.table = table_name(table, qualified=False)
        self._busy_timeout = seconds(busy_timeout, "busy_timeout")
        self._clock = clock
        self._conn: aiosqlite.Connection | None = None

    async def setup(self) -> None:
        conn = await self._connection()
        t = self.table
        await conn.execute("BEGIN IMMEDIATE")  # two processes starting together take turns
        try:
            await conn.execute(
                f"""
                CREATE TABLE IF NOT EXISTS {t} (
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    topic TEXT NOT NULL,
                    key TEXT,
                    body BLOB NOT NULL,
                    created_at REAL NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    sent_at REAL,
                    last_error TEXT,
                    parked_at REAL
                )
                """
            )
            await self._migrate(conn)
            for index in _INDEXES:
                await conn.execute(index.format(t=t))
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        """Add what a table made by an older version lacks."""
        async with conn.execute(f"PRAGMA table_info({self.table})") as cursor:
            columns = {column[1] for column in await cursor.fetchall()}
        if "parked_at" not in columns:
            await conn.execute(f"ALTER TABLE {self.table} ADD COLUMN parked_at REAL")

    async def add(self, conn: aiosqlite.Connection, envelope: Envelope, *, topic: str) -> None:
        # Python's sqlite3 opens a transaction before the INSERT unless the connection is in
        # autocommit mode; there the INSERT would commit on its own, apart from the user's write.
        if conn.isolation_level is None and not conn.in_transaction:
            raise ConfigurationError(
                "outbox.add() must run inside a transaction: this connection is in autocommit "
                "mode (isolation_level=None) and no BEGIN is open"
            )
        await conn.execute(
            f"INSERT INTO {self.table} (id, topic, key, body, created_at) VALUES (?, ?, ?, ?, ?)",
            (envelope.id, topic, envelope.partitionkey, envelope.to_bytes(), self._clock.time()),
        )

    @asynccontextmanager
    async def claim(self, limit: int) -> AsyncIterator[Claim]:
        conn = await self._connection()
        sql = (
            f"SELECT {_COLUMNS} FROM {self.table} AS r WHERE {ready_rows(self.table)} "
            "ORDER BY r.attempts, r.seq LIMIT ?"
        )
        async with conn.execute(sql, (limit,)) as cursor:
            rows = [_row(r) for r in await cursor.fetchall()]
        yield _SqliteClaim(self, rows)

    async def pending(self) -> int:
        sql = f"SELECT count(*) FROM {self.table} WHERE sent_at IS NULL AND parked_at IS NULL"
        return await self._count(sql, ())

    async def parked(self, limit: int = 100) -> list[OutboxRow]:
        conn = await self._connection()
        sql = (
            f"SELECT {_COLUMNS} FROM {self.table} WHERE parked_at IS NOT NULL ORDER BY seq LIMIT ?"
        )
        async with conn.execute(sql, (limit,)) as cursor:
            return [_row(r) for r in await cursor.fetchall()]

    async def parked_count(self) -> int:
        return await self._count(
            f"SELECT count(*) FROM {self.table} WHERE parked_at IS NOT NULL", ()
        )

    async def unpark(self, id: str | None = None) -> int:
        conn = await self._connection()
        sql = f"UPDATE {self.table} SET parked_at = NULL, attempts = 0 WHERE parked_at IS NOT NULL"
        params: tuple[str, ...] = () if id is None else (id,)
        async with conn.execute(sql if id is None else f"{sql} AND id = ?", params) as cursor:
            return int(cursor.rowcount)

    async def get(self, id: str) -> OutboxRow | None:
        conn = await self._connection()
        sql = f"SELECT {_COLUMNS} FROM {self.table} WHERE id = ?"
        async with conn.execute(sql, (id,)) as cursor:
            found = await cursor.fetchone()
        return None if found is None else _row(found)

    async def prune(self, *, older_than: Seconds) -> int:
        cutoff = self._clock.time() - seconds(older_than, "older_than")
        conn = await self._connection()
        sql = f"DELETE FROM {self.table} WHERE sent_at IS NOT NULL AND sent_at < ?"
        async with conn.execute(sql, (cutoff,)) as cursor:
            return int(cursor.rowcount)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _update(self, sql: str, params: tuple[Any, ...]) -> None:
        conn = await self._connection()
        await conn.execute(sql, params)

    async def _count(self, sql: str, params: tuple[Any, ...]) -> int:
        conn = await self._connection()
        async with conn.execute(sql, params) as cursor:
            found = await cursor.fetchone()
        return 0 if found is None else int(found[0])

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            driver = load_driver("aiosqlite", "sqlite")
            # Autocommit: every statement of the relay is its own short transaction, so it
            # never holds SQLite's single write lock while it talks to the broker.
            self._conn = await driver.connect(
                self.database, timeout=self._busy_timeout, isolation_level=None
            )
        return self._conn

    def __repr__(self) -> str:
        return f"SqliteOutbox({self.database!r}, table={self.table!r})"


@dataclass(slots=True)
class _SqliteClaim:
    outbox: SqliteOutbox
    rows: Sequence[OutboxRow]

    async def mark_sent(self, row: OutboxRow) -> None:
        await self.outbox._update(
            f"UPDATE {self.outbox.table} SET sent_at = ?, attempts = attempts + 1 WHERE id = ?",
            (self.outbox._clock.time(), row.id),
        )

    async def mark_failed(self, row: OutboxRow, error: str) -> None:
        await self.outbox._update(
            f"UPDATE {self.outbox.table} SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            (error, row.id),
        )

    async def mark_parked(self, row: OutboxRow, error: str) -> None:
        await self.outbox._update(
            f"UPDATE {self.outbox.table} "
            "SET attempts = attempts + 1, last_error = ?, parked_at = ? WHERE id = ?",
            (error, self.outbox._clock.time(), row.id),
        )


def _row(values: Any) -> OutboxRow:
    id_, topic, key, body, created_at, attempts, sent_at, last_error, parked_at = values
    return OutboxRow(
        id=id_,
        topic=topic,
        key=key,
        body=bytes(body),
        created_at=float(created_at),
        attempts=int(attempts),
        sent_at=None if sent_at is None else float(sent_at),
        last_error=last_error,
        parked_at=None if parked_at is None else float(parked_at),
    )
