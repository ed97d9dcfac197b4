"""PostgreSQL outbox: rows written on the user's asyncpg connection, relayed by any number of
processes at once.

Each relay claims its batch with ``FOR UPDATE SKIP LOCKED`` inside a transaction that stays
open while it publishes: another relay skips those rows, and a relay that dies drops its
connection, which rolls the claim back and frees the rows for the next one. ``add`` also sends
a ``NOTIFY`` on the table's channel; PostgreSQL delivers it only when the user commits, and it
wakes every listening relay at once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

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
    from interlink._envelope import Envelope

__all__ = ["PostgresOutbox"]

log = logging.getLogger("interlink.outbox")

_COLUMNS = "id, topic, key, body, created_at, attempts, sent_at, last_error, parked_at"


class PgConnection(Protocol):
    """The part of ``asyncpg.Connection`` the outbox uses (asyncpg ships no type hints)."""

    def is_in_transaction(self) -> bool: ...

    def transaction(self) -> Any: ...

    async def execute(self, query: str, *args: Any) -> str: ...

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def fetchrow(self, query: str, *args: Any) -> Any: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    async def add_listener(self, channel: str, callback: Callable[..., object]) -> None: ...

    async def remove_listener(self, channel: str, callback: Callable[..., object]) -> None: ...


class PgPool(Protocol):
    """The part of ``asyncpg.Pool`` the outbox uses."""

    def acquire(self) -> AbstractAsyncContextManager[PgConnection]: ...

    async def close(self) -> None: ...


class PostgresOutbox(Outbox[PgConnection]):
    """An outbox table in PostgreSQL.

    ::

        outbox = PostgresOutbox("postgresql://app@db/shop")     # or an asyncpg pool you own
        await outbox.setup()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO orders ...")
            await outbox.publish(conn, ctx, "orders.placed", OrderPlaced(...), key=order_id)

    Given a DSN, the outbox opens a small pool of its own (for the relay) on first use and
    closes it in :meth:`close`; given a pool, it borrows connections and never closes it.
    ``table`` may be schema-qualified. ``notify=False`` leaves out the ``NOTIFY`` in
    :meth:`add` (relays then find new rows by polling only).
    """

    def __init__(
        self,
        dsn_or_pool: str | PgPool,
        *,
        table: str = "interlink_outbox",
        notify: bool = True,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.table = table_name(table, qualified=True)
        self.channel = self.table
        self._notify = notify
        self._clock = clock
        self._dsn = dsn_or_pool if isinstance(dsn_or_pool, str) else None
        self._pool: PgPool | None = None if isinstance(dsn_or_pool, str) else dsn_or_pool
        self._index = self.table.rpartition(".")[2]
        insert = f"INSERT INTO {self.table} (id, topic, key, body, created_at) VALUES ($1, $2, $3, $4, $5)"
        self._insert = (
            f"WITH row AS ({insert} RETURNING 1) SELECT pg_notify($6, '') FROM row"
            if notify
            else insert
        )

    async def setup(self) -> None:
        t, index = self.table, self._index
        async with self._acquire() as conn, conn.transaction():
            # Two processes starting together would otherwise race on CREATE TABLE.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", t)
            await conn.execute(
                f"""
                CREATE TABLE IF NOT EXISTS {t} (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    topic TEXT NOT NULL,
                    key TEXT,
                    body BYTEA NOT NULL,
                    created_at TIMESTAMPTZ NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    sent_at TIMESTAMPTZ,
                    last_error TEXT,
                    parked_at TIMESTAMPTZ
                )
                """
            )
            await self._migrate(conn)
            await conn.execute(
                f"""
                CREATE INDEX IF NOT EXISTS {index}_unsent ON {t} (seq) WHERE sent_at IS NULL;
                CREATE INDEX IF NOT EXISTS {index}_sent ON {t} (sent_at) WHERE sent_at IS NOT NULL;
                CREATE INDEX IF NOT EXISTS {index}_keys ON {t} (key, seq) WHERE sent_at IS NULL;
                CREATE INDEX IF NOT EXISTS {index}_parked ON {t} (seq) WHERE parked_at IS NOT NULL;
                """
            )

    async def _migrate(self, conn: PgConnection) -> None:
        """Add what a table made by an older version lacks (checked first: ALTER TABLE would
        lock the table against every writer even when there is nothing to add)."""
        found = await conn.fetchval(
            "SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass "
            "AND attname = 'parked_at' AND NOT attisdropped",
            self.table,
        )
        if found is None:
            await conn.execute(f"ALTER TABLE {self.table} ADD COLUMN parked_at TIMESTAMPTZ")

    async def add(self, conn: PgConnection, envelope: Envelope, *, topic: str) -> None:
        if not conn.is_in_transaction():
            raise ConfigurationError(
                "outbox.add() must run inside a transaction: use `async with conn.transaction():`"
            )
        args: list[Any] = [envelope.id, topic, envelope.partitionkey, envelope.to_bytes()]
        args.append(self._now())
        if self._notify:
            args.append(self.channel)
        await conn.execute(self._insert, *args)

    @asynccontextmanager
    async def claim(self, limit: int) -> AsyncIterator[Claim]:
        async with self._acquire() as conn, conn.transaction():
            records = await conn.fetch(
                f"SELECT {_COLUMNS} FROM {self.table} AS r WHERE {ready_rows(self.table)} "
                "ORDER BY r.attempts, r.seq LIMIT $1 FOR UPDATE OF r SKIP LOCKED",
                limit,
            )
            # Invariant: marks are written in the claim's transaction, so they commit together
            # with the release of the row locks, or (the relay died) not at all.
            yield _PostgresClaim(self, conn, [_row(r) for r in records])

    async def pending(self) -> int:
        return await self._count("sent_at IS NULL AND parked_at IS NULL")

    async def parked(self, limit: int = 100) -> list[OutboxRow]:
        async with self._acquire() as conn:
            records = await conn.fetch(
                f"SELECT {_COLUMNS} FROM {self.table} WHERE parked_at IS NOT NULL "
                "ORDER BY seq LIMIT $1",
                limit,
            )
        return [_row(r) for r in records]

    async def parked_count(self) -> int:
        return await self._count("parked_at IS NOT NULL")

    async def unpark(self, id: str | None = None) -> int:
        sql = f"UPDATE {self.table} SET parked_at = NULL, attempts = 0 WHERE parked_at IS NOT NULL"
        async with self._acquire() as conn:
            if id is None:
                status = await conn.execute(sql)
            else:
                status = await conn.execute(f"{sql} AND id = $1", id)
        return int(status.rpartition(" ")[2])

    async def _count(self, where: str) -> int:
        async with self._acquire() as conn:
            count = await conn.fetchval(f"SELECT count(*) FROM {self.table} WHERE {where}")
        return int(count)

    async def get(self, id: str) -> OutboxRow | None:
        async with self._acquire() as conn:
            record = await conn.fetchrow(f"SELECT {_COLUMNS} FROM {self.table} WHERE id = $1", id)
        return None if record is None else _row(record)

    async def prune(self, *, older_than: Seconds) -> int:
        cutoff = self._clock.time() - seconds(older_than, "older_than")
        async with self._acquire() as conn:
            status = await conn.execute(
                f"DELETE FROM {self.table} WHERE sent_at IS NOT NULL AND sent_at < $1",
                datetime.fromtimestamp(cutoff, UTC),
            )
        return int(status.rpartition(" ")[2])

    @asynccontextmanager
    async def notifications(self, wake: Callable[[], None]) -> AsyncIterator[None]:
        def on_notify(*_: object) -> None:
            wake()

        async with AsyncExitStack() as stack:
            try:
                conn = await stack.enter_async_context(self._acquire())
                await conn.add_listener(self.channel, on_notify)
                stack.push_async_callback(self._unlisten, conn, on_notify)
            except Exception as exc:  # polling still finds the rows; LISTEN only makes it quicker
                log.warning("outbox %s: cannot LISTEN (%r); polling only", self.table, exc)
            yield

    async def _unlisten(self, conn: PgConnection, callback: Callable[..., object]) -> None:
        try:
            await conn.remove_listener(self.channel, callback)
        except Exception as exc:  # a lost connection has no listener left to remove
            log.debug("outbox %s: UNLISTEN failed (%r)", self.table, exc)

    async def close(self) -> None:
        if self._dsn is None or self._pool is None:
            return  # nothing opened here: a pool the user gave stays theirs
        pool, self._pool = self._pool, None
        await pool.close()

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[PgConnection]:
        if self._pool is None:
            driver = load_driver("asyncpg", "postgres")
            self._pool = await driver.create_pool(self._dsn, min_size=1, max_size=4)
        async with self._pool.acquire() as conn:
            yield conn

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), UTC)

    def __repr__(self) -> str:
        return f"PostgresOutbox(table={self.table!r})"


@dataclass(slots=True)
class _PostgresClaim:
    outbox: PostgresOutbox
    conn: PgConnection
    rows: Sequence[OutboxRow]

    async def mark_sent(self, row: OutboxRow) -> None:
        await self.conn.execute(
            f"UPDATE {self.outbox.table} SET sent_at = $1, attempts = attempts + 1 WHERE id = $2",
            self.outbox._now(),
            row.id,
        )

    async def mark_failed(self, row: OutboxRow, error: str) -> None:
        await self.conn.execute(
            f"UPDATE {self.outbox.table} SET attempts = attempts + 1, last_error = $1 WHERE id = $2",
            error,
            row.id,
        )

    async def mark_parked(self, row: OutboxRow, error: str) -> None:
        await self.conn.execute(
            f"UPDATE {self.outbox.table} "
            "SET attempts = attempts + 1, last_error = $1, parked_at = $2 WHERE id = $3",
            error,
            self.outbox._now(),
            row.id,
        )


def _row(record: Any) -> OutboxRow:
    sent_at: datetime | None = record["sent_at"]
    parked_at: datetime | None = record["parked_at"]
    return OutboxRow(
        id=record["id"],
        topic=record["topic"],
        key=record["key"],
        body=bytes(record["body"]),
        created_at=record["created_at"].timestamp(),
        attempts=int(record["attempts"]),
        sent_at=None if sent_at is None else sent_at.timestamp(),
        last_error=record["last_error"],
        parked_at=None if parked_at is None else parked_at.timestamp(),
    )
