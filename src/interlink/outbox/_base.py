"""The Outbox seam: a table written in the user's transaction, read back by a relay.

A backend (one module each: SQLite, PostgreSQL) writes rows on the user's own connection and
hands unsent rows to :class:`~interlink.outbox.OutboxRelay` in batches (a :class:`Claim`). The
relay, its polling, backoff, parking and shutdown are written once, above this seam.

Invariant (per key): a claim never holds a row while an older unsent row of the same key has
failed before or is parked. So a later row of a key cannot overtake an earlier one that is
failing; rows without a key, and rows of other keys, may.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

from interlink._errors import ConfigurationError

if TYPE_CHECKING:
    from interlink._context import Context
    from interlink._envelope import Envelope

__all__ = ["Claim", "Outbox", "OutboxRow", "load_driver", "ready_rows", "table_name"]

ConnT = TypeVar("ConnT")

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]{0,62}"


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboxRow:
    """One event waiting in (or already sent from) the outbox. Times are epoch seconds."""

    id: str
    """The envelope id: the primary key, and the broker's ``message_id`` (dedupe key)."""
    topic: str
    key: str | None
    body: bytes
    """``envelope.to_bytes()``: exactly what goes on the broker."""
    created_at: float
    attempts: int = 0
    """Publish attempts so far, the successful one included."""
    sent_at: float | None = None
    last_error: str | None = None
    parked_at: float | None = None
    """When the relay gave up on it (see :meth:`Outbox.parked`); None while it is in line."""


class Claim(Protocol):
    """A batch of rows to publish, held by one relay until the context exits.

    Unsent, unparked rows that no failing or parked older row of their key holds back; those
    with the fewest attempts first (so never-tried rows come before failing ones), then
    oldest first.
    """

    @property
    def rows(self) -> Sequence[OutboxRow]: ...

    async def mark_sent(self, row: OutboxRow) -> None:
        """The broker accepted ``row``: never publish it again."""

    async def mark_failed(self, row: OutboxRow, error: str) -> None:
        """Publishing ``row`` failed: count the attempt, keep the row for a later round."""

    async def mark_parked(self, row: OutboxRow, error: str) -> None:
        """Publishing ``row`` failed for the last time: count the attempt, record the error,
        and set the row aside until :meth:`Outbox.unpark`."""


class Outbox(ABC, Generic[ConnT]):
    """A transactional outbox table. ``ConnT`` is the user's connection type.

    Write with :meth:`add` or :meth:`publish` on your own connection, inside your own
    transaction: the event exists if and only if that transaction commits. An
    :class:`~interlink.outbox.OutboxRelay` publishes what was committed.
    """

    table: str

    @abstractmethod
    async def setup(self) -> None:
        """Create the table and its indexes if they are missing (safe to call every start)."""

    @abstractmethod
    async def add(self, conn: ConnT, envelope: Envelope, *, topic: str) -> None:
        """Insert ``envelope`` for ``topic`` through ``conn``, in its open transaction."""

    async def publish(
        self, conn: ConnT, ctx: Context, topic: str, message: Any, *, key: str | None = None
    ) -> Envelope:
        """Build the event ``ctx.publish`` would send and :meth:`add` it; returns it."""
        envelope = ctx.event(topic, message, key=key)
        await self.add(conn, envelope, topic=topic)
        return envelope

    @abstractmethod
    def claim(self, limit: int) -> AbstractAsyncContextManager[Claim]:
        """Up to ``limit`` rows to publish (see :class:`Claim`), held until the context exits."""

    @abstractmethod
    async def pending(self) -> int:
        """How many rows wait to be published: not sent and not parked."""

    @abstractmethod
    async def parked(self, limit: int = 100) -> list[OutboxRow]:
        """Up to ``limit`` parked rows, oldest first, with ``last_error`` and ``parked_at``."""

    @abstractmethod
    async def parked_count(self) -> int:
        """How many rows are parked."""

    @abstractmethod
    async def unpark(self, id: str | None = None) -> int:
        """Put the parked row ``id`` (every parked row when None) back in line with its
        attempts reset to 0; returns how many rows were unparked."""

    @abstractmethod
    async def get(self, id: str) -> OutboxRow | None:
        """One row by envelope id (for inspection and tests)."""

    @abstractmethod
    async def prune(self, *, older_than: float | timedelta) -> int:
        """Delete rows sent more than ``older_than`` ago; returns how many. Unsent rows stay."""

    @abstractmethod
    async def close(self) -> None:
        """Release what the outbox opened itself (never the user's connections)."""

    def notifications(self, wake: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        """While entered, call ``wake`` when another writer commits rows (where supported)."""
        return nullcontext()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def ready_rows(table: str) -> str:
    """The SQL condition for rows a claim may take (``r`` is the row, aliased in FROM)."""
    return (
        "r.sent_at IS NULL AND r.parked_at IS NULL AND NOT EXISTS ("
        f"SELECT 1 FROM {table} AS e WHERE e.key = r.key AND e.seq < r.seq "
        "AND e.sent_at IS NULL AND (e.attempts > 0 OR e.parked_at IS NOT NULL))"
    )


def table_name(name: str, *, qualified: bool, what: str = "outbox") -> str:
    """``name`` checked as a SQL identifier (``schema.table`` when ``qualified``)."""
    pattern = rf"{_IDENTIFIER}(\.{_IDENTIFIER})?" if qualified else _IDENTIFIER
    if not re.fullmatch(pattern, name):
        raise ConfigurationError(
            f"{what} table name {name!r} is not a plain SQL identifier "
            f"(letters, digits and _{', optionally schema.table' if qualified else ''})"
        )
    return name


def load_driver(module: str, extra: str, *, what: str = "this outbox") -> ModuleType:
    """Import a database driver on first use, naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"{what} needs {module}: pip install 'interlink[{extra}]'"
        ) from exc
