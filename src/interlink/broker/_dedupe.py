"""Idempotent consumers: skip an envelope id already processed within a window.

The id is remembered only after the handler succeeded, so a crash in between means the
message is processed again (at-least-once is kept); a duplicate publish or a redelivery of
something already done is acknowledged and skipped.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from interlink._errors import ConfigurationError

if TYPE_CHECKING:
    import aiosqlite
    from nats.js.kv import KeyValue

    from interlink.broker._base import Broker

__all__ = ["Dedupe", "DedupeStore", "MemoryDedupeStore", "NatsDedupeStore", "SqliteDedupeStore"]


@runtime_checkable
class DedupeStore(Protocol):
    async def open(self, broker: Broker, scope: str, window: float) -> None:
        """Prepare for one subscription (``scope`` names its group and topic)."""

    async def seen(self, message_id: str) -> bool: ...

    async def remember(self, message_id: str) -> None: ...

    async def close(self) -> None: ...


class MemoryDedupeStore:
    """This process only, at most ``max_entries`` ids (the oldest are forgotten first)."""

    def __init__(self, *, max_entries: int = 100_000) -> None:
        self._max = max_entries
        self._window = 0.0
        self._ids: OrderedDict[str, float] = OrderedDict()

    async def open(self, broker: Broker, scope: str, window: float) -> None:
        self._window = window

    async def seen(self, message_id: str) -> bool:
        expires = self._ids.get(message_id)
        return expires is not None and expires > time.monotonic()

    async def remember(self, message_id: str) -> None:
        now = time.monotonic()
        ids = self._ids
        ids[message_id] = now + self._window
        ids.move_to_end(message_id)
        while ids and (len(ids) > self._max or next(iter(ids.values())) <= now):
            ids.popitem(last=False)

    async def close(self) -> None:
        self._ids.clear()


class SqliteDedupeStore:
    """A SQLite file shared by the processes of one host; expired ids are pruned as it goes."""

    def __init__(self, path: str, *, table: str = "interlink_dedupe") -> None:
        self._path = path
        self._table = table
        self._scope = ""
        self._window = 0.0
        self._writes = 0
        self._db: aiosqlite.Connection | None = None

    async def open(self, broker: Broker, scope: str, window: float) -> None:
        try:
            import aiosqlite
        except ImportError:
            raise ConfigurationError(
                'SqliteDedupeStore needs aiosqlite: pip install "interlink[sql]"'
            ) from None
        self._scope, self._window = scope, window
        db = await aiosqlite.connect(self._path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} "
            "(scope TEXT NOT NULL, id TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (scope, id))"
        )
        await db.commit()
        self._db = db

    async def seen(self, message_id: str) -> bool:
        db = self._conn()
        async with db.execute(
            f"SELECT 1 FROM {self._table} WHERE scope = ? AND id = ? AND expires > ?",
            (self._scope, message_id, time.time()),
        ) as cursor:
            return await cursor.fetchone() is not None

    async def remember(self, message_id: str) -> None:
        db = self._conn()
        now = time.time()
        await db.execute(
            f"INSERT OR REPLACE INTO {self._table} (scope, id, expires) VALUES (?, ?, ?)",
            (self._scope, message_id, now + self._window),
        )
        self._writes += 1
        if self._writes % 1000 == 0:
            await db.execute(f"DELETE FROM {self._table} WHERE expires <= ?", (now,))
        await db.commit()

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the dedupe store is not open")
        return self._db


class NatsDedupeStore:
    """A JetStream key-value bucket per subscription, whose TTL is the window: shared by
    every instance of the group, on the same NATS server as the broker."""

    def __init__(self) -> None:
        self._kv: KeyValue | None = None

    async def open(self, broker: Broker, scope: str, window: float) -> None:
        from interlink.broker._nats import NatsBroker
        from interlink.broker._nats_streams import consumer_name

        if not isinstance(broker, NatsBroker):
            raise ConfigurationError("NatsDedupeStore needs the App's broker to be NATS")
        self._kv = await broker.jetstream.create_key_value(
            bucket=f"IL_DEDUPE_{consumer_name(scope)}", ttl=window, history=1
        )

    async def seen(self, message_id: str) -> bool:
        import nats.js.errors

        try:
            await self._bucket().get(message_id)
        except nats.js.errors.KeyNotFoundError:
            return False
        return True

    async def remember(self, message_id: str) -> None:
        await self._bucket().put(message_id, b"1")

    async def close(self) -> None:
        self._kv = None

    def _bucket(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("the dedupe store is not open")
        return self._kv


@dataclass(frozen=True, kw_only=True)
class Dedupe:
    """``@svc.subscribe(topic, dedupe=Dedupe(window=3600))``: process each envelope id once
    within ``window`` seconds. ``store`` is ``"memory"`` (default), ``"nats"`` or a store."""

    window: float | timedelta = 3600.0
    store: DedupeStore | str = "memory"
    seconds: float = field(init=False)

    def __post_init__(self) -> None:
        window = (
            self.window.total_seconds()
            if isinstance(self.window, timedelta)
            else float(self.window)
        )
        if window <= 0:
            raise ValueError(f"the dedupe window must be positive, not {self.window!r}")
        if isinstance(self.store, str) and self.store not in ("memory", "nats"):
            raise ValueError(f"store is 'memory', 'nats' or a DedupeStore, not {self.store!r}")
        object.__setattr__(self, "seconds", window)

    def make_store(self) -> DedupeStore:
        """A fresh store for one subscription (a store object given here is used as is)."""
        if self.store == "memory":
            return MemoryDedupeStore()
        if self.store == "nats":
            return NatsDedupeStore()
        assert not isinstance(self.store, str)
        return self.store
