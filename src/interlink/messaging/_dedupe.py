"""Idempotent consumers: an envelope id is claimed before its handler runs, and remembered as
done once it succeeded, so concurrent copies run once and later copies are skipped.

A claim is a lease: if its holder dies, the claim lapses after ``lease`` seconds and another
member may run the message. A failed run releases its claim so a retry can take it. The id is
remembered as done only after the handler succeeded, so a crash between the two means one more
run (at-least-once is kept); for exactly-once effects use the transactional inbox.

Every call names its ``scope`` (the subscription's group and topic): one store object may serve
many subscriptions, and keys are made safe for every backend (any id, any length).
"""

from __future__ import annotations

import enum
import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from interlink._errors import ConfigurationError

if TYPE_CHECKING:
    import aiosqlite

    from interlink.broker import Broker

__all__ = [
    "Claim",
    "Dedupe",
    "DedupeStore",
    "MemoryDedupeStore",
    "SqliteDedupeStore",
    "safe_key",
]

_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def safe_key(text: str) -> str:
    """``text`` if it is a short plain token, else a digest of it: valid as a NATS KV key token,
    a file name or a SQL value, and never two texts on one key."""
    if _SAFE.match(text):
        return text
    return "h" + hashlib.sha256(text.encode()).hexdigest()


class Claim(enum.Enum):
    CLAIMED = "claimed"
    """This caller holds the id: run the handler."""
    DONE = "done"
    """Processed already: acknowledge and skip."""
    BUSY = "busy"
    """Another member holds an unexpired claim on it right now."""


@runtime_checkable
class DedupeStore(Protocol):
    async def open(self, broker: Broker) -> None:
        """Prepare; called once per subscription that uses the store (count the calls)."""

    async def claim(self, scope: str, message_id: str, *, lease: float) -> Claim: ...

    async def release(self, scope: str, message_id: str) -> None:
        """Drop this caller's claim (the run failed): a retry may claim it again."""

    async def remember(self, scope: str, message_id: str, *, window: float) -> None:
        """Done: claims of this id return DONE for ``window`` seconds."""

    async def close(self) -> None:
        """Called once per ``open``; the last one releases the store's resources."""


class MemoryDedupeStore:
    """This process only, at most ``max_entries`` ids (the oldest are forgotten first)."""

    def __init__(self, *, max_entries: int = 100_000) -> None:
        self._max = max_entries
        self._ids: OrderedDict[tuple[str, str], tuple[bool, float]] = OrderedDict()

    async def open(self, broker: Broker) -> None:
        return None

    async def claim(self, scope: str, message_id: str, *, lease: float) -> Claim:
        now = time.monotonic()
        entry = self._ids.get((scope, message_id))
        if entry is not None and entry[1] > now:
            return Claim.DONE if entry[0] else Claim.BUSY
        self._put((scope, message_id), False, now + lease)
        return Claim.CLAIMED

    async def release(self, scope: str, message_id: str) -> None:
        entry = self._ids.get((scope, message_id))
        if entry is not None and not entry[0]:
            del self._ids[(scope, message_id)]

    async def remember(self, scope: str, message_id: str, *, window: float) -> None:
        self._put((scope, message_id), True, time.monotonic() + window)

    async def close(self) -> None:
        return None

    def _put(self, key: tuple[str, str], done: bool, expires: float) -> None:
        ids = self._ids
        ids[key] = (done, expires)
        ids.move_to_end(key)
        now = time.monotonic()
        while ids and (len(ids) > self._max or next(iter(ids.values()))[1] <= now):
            ids.popitem(last=False)


class SqliteDedupeStore:
    """A SQLite file shared by the processes of one host; expired ids are pruned as it goes."""

    def __init__(self, path: str, *, table: str = "interlink_dedupe") -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", table):
            raise ConfigurationError(f"table {table!r} is not a plain SQL identifier")
        self._path = path
        self._table = table
        self._opened = 0
        self._writes = 0
        self._db: aiosqlite.Connection | None = None

    async def open(self, broker: Broker) -> None:
        self._opened += 1
        if self._db is not None:
            return
        try:
            import aiosqlite
        except ImportError:
            raise ConfigurationError(
                'SqliteDedupeStore needs aiosqlite: pip install "interlink[sqlite]"'
            ) from None
        db = await aiosqlite.connect(self._path, isolation_level=None)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA busy_timeout=5000")
        await db.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} (scope TEXT NOT NULL, id TEXT NOT NULL, "
            "done INTEGER NOT NULL, expires REAL NOT NULL, PRIMARY KEY (scope, id))"
        )
        self._db = db

    async def claim(self, scope: str, message_id: str, *, lease: float) -> Claim:
        db, now = self._conn(), time.time()
        # One statement decides: insert a claim, or take over an expired entry.
        async with db.execute(
            f"INSERT INTO {self._table} (scope, id, done, expires) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (scope, id) DO UPDATE SET done = 0, expires = excluded.expires "
            "WHERE expires <= ? RETURNING 1",
            (scope, message_id, now + lease, now),
        ) as cursor:
            if await cursor.fetchone() is not None:
                return Claim.CLAIMED
        async with db.execute(
            f"SELECT done FROM {self._table} WHERE scope = ? AND id = ?", (scope, message_id)
        ) as cursor:
            row = await cursor.fetchone()
        return Claim.DONE if row is not None and row[0] else Claim.BUSY

    async def release(self, scope: str, message_id: str) -> None:
        await self._conn().execute(
            f"DELETE FROM {self._table} WHERE scope = ? AND id = ? AND done = 0",
            (scope, message_id),
        )

    async def remember(self, scope: str, message_id: str, *, window: float) -> None:
        db, now = self._conn(), time.time()
        await db.execute(
            f"INSERT OR REPLACE INTO {self._table} (scope, id, done, expires) VALUES (?, ?, 1, ?)",
            (scope, message_id, now + window),
        )
        self._writes += 1
        if self._writes % 1000 == 0:
            await db.execute(f"DELETE FROM {self._table} WHERE expires <= ?", (now,))

    async def close(self) -> None:
        self._opened -= 1
        if self._opened > 0:
            return
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the dedupe store is not open")
        return self._db


@dataclass(frozen=True, kw_only=True)
class Dedupe:
    """``@svc.subscribe(topic, dedupe=Dedupe(window=3600))``: process each envelope id once
    within ``window`` seconds. ``store`` is ``"memory"`` (default), ``"nats"`` or a store.
    ``lease``: how long a claim protects a running handler from a concurrent copy elsewhere."""

    window: float | timedelta = 3600.0
    store: DedupeStore | str = "memory"
    lease: float | timedelta = 300.0
    seconds: float = field(init=False)
    lease_seconds: float = field(init=False)

    def __post_init__(self) -> None:
        window, lease = _seconds(self.window), _seconds(self.lease)
        if window <= 0 or lease <= 0:
            raise ValueError(
                f"the dedupe window and lease must be positive, not {self.window!r}, {self.lease!r}"
            )
        if isinstance(self.store, str) and self.store not in ("memory", "nats"):
            raise ValueError(f"store is 'memory', 'nats' or a DedupeStore, not {self.store!r}")
        object.__setattr__(self, "seconds", window)
        object.__setattr__(self, "lease_seconds", lease)

    def make_store(self) -> DedupeStore:
        """A fresh store for one subscription (a store object given here is used as is)."""
        if self.store == "memory":
            return MemoryDedupeStore()
        if self.store == "nats":
            from interlink.messaging._dedupe_nats import NatsDedupeStore

            return NatsDedupeStore()
        assert not isinstance(self.store, str)
        return self.store


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
