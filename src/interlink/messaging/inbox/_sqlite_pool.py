"""A small bounded pool of aiosqlite connections in autocommit mode, for one database file.

Every connection runs in WAL mode with ``synchronous=NORMAL`` (or ``FULL``) and a busy timeout.
In WAL mode, ``NORMAL`` syncs the log at checkpoints, not at every commit: a committed
transaction survives the process being killed (the log is in the operating system's hands), and
only a power loss or an OS crash can take back the last commits. ``FULL`` syncs every commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Literal

from interlink._errors import ConfigurationError
from interlink.outbox._base import load_driver

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["SqlitePool", "Synchronous"]

Synchronous = Literal["NORMAL", "FULL"]


class SqlitePool:
    """At most ``size`` connections, opened on demand and kept until :meth:`close`.

    Invariant: a connection goes back to the pool only outside a transaction. One that is still
    inside one (its ROLLBACK was interrupted) is closed instead, which rolls the transaction
    back; aiosqlite runs a connection's statements in order, so the close comes after any
    statement still running on it.
    """

    def __init__(
        self, path: str, *, size: int, busy_timeout: float, synchronous: Synchronous
    ) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._synchronous = synchronous
        self._slots = asyncio.Semaphore(size)
        self._idle: list[aiosqlite.Connection] = []
        self._closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._slots:
            if self._closed:
                raise RuntimeError(f"the database {self.path!r} is closed")
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                yield conn
            finally:
                if self._closed or conn.in_transaction:
                    await conn.close()
                else:
                    self._idle.append(conn)

    async def close(self) -> None:
        """Close the idle connections now; those in use close when they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

    async def _connect(self) -> aiosqlite.Connection:
        driver = load_driver("aiosqlite", "sqlite", what="a SQLite database")
        # Autocommit: the database issues BEGIN IMMEDIATE, COMMIT and ROLLBACK itself, rather
        # than Python's sqlite3 opening a deferred transaction at the first write.
        conn: aiosqlite.Connection = await driver.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None
        )
        try:
            async with conn.execute("PRAGMA journal_mode=WAL") as cursor:
                mode = await cursor.fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                raise ConfigurationError(
                    f"SQLite database {self.path!r} cannot use WAL mode (journal_mode={mode!r})"
                )
            await conn.execute(f"PRAGMA synchronous={self._synchronous}")
        except BaseException:
            await conn.close()
            raise
        return conn
