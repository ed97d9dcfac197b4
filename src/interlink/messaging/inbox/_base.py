"""The inbox seam: a ``Database`` that holds a service's inbox and outbox tables.

A backend (one module each: SQLite, PostgreSQL) opens its own connections and runs
:meth:`Database.transaction` on one of them. Inside it, :meth:`Transaction.claim` records a
message id in the inbox table, the user's own SQL runs on :attr:`Transaction.connection`, and
:meth:`Transaction.add_event` adds outbox rows: all of it commits, or none of it does. That is
what makes a handler's effects happen exactly once when its message is delivered more than once.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol, Self, cast

from interlink.resilience._config import Seconds

if TYPE_CHECKING:
    from interlink._envelope import Envelope
    from interlink.outbox import Outbox

__all__ = ["Database", "Transaction"]


class Transaction(Protocol):
    """One open transaction: committed when its ``async with`` block ends, rolled back when the
    block raises (cancellation included)."""

    connection: Any
    """The driver's own connection (``aiosqlite.Connection``, or an asyncpg connection) for
    your SQL in this same transaction. Leave COMMIT and ROLLBACK to the block."""

    async def claim(self, scope: str, message_id: str) -> bool:
        """Record ``message_id`` as processed in ``scope``, in this transaction.

        False when it is already recorded (an earlier transaction committed it, or this one
        claimed it before): the message is a duplicate, and the caller leaves the block without
        its effects (raising rolls back). When two transactions claim the same id at once, the
        later one waits for the earlier to end: exactly one of them gets True and commits.
        """
        ...

    async def add_event(self, envelope: Envelope, *, topic: str) -> None:
        """Add ``envelope`` to the outbox for ``topic``: it exists if this transaction commits."""
        ...


class Database:
    """One place for a service's inbox and outbox: ``Database("sqlite:///billing.db")`` or
    ``Database("postgresql://user@host/db")``.

    ``Database(url, **options)`` builds the backend the URL names (a
    :class:`~interlink.messaging.inbox.SqliteDatabase` or
    :class:`~interlink.messaging.inbox.PostgresDatabase`); the options are that backend's.
    Open it with ``await db.open()`` or ``async with db:``; the tables are created then.
    """

    url: str
    """The URL it was built from."""
    table: str
    """The inbox table: one row per (scope, message id) processed."""
    outbox: Outbox[Any]
    """The outbox on the same database; :meth:`Transaction.add_event` writes to it."""

    def __new__(cls, url: str, /, **options: Any) -> Self:
        if cls is Database:
            from interlink.messaging.inbox._urls import database_class

            return cast(Self, object.__new__(database_class(url)))
        return object.__new__(cls)

    async def open(self) -> None:
        """Connect and create the inbox and outbox tables if they are missing (idempotent)."""
        raise NotImplementedError

    @property
    def is_open(self) -> bool:
        """Opened and not closed since. An App opens an inbox database that is not open, and
        then closes it when it stops; one you opened yourself stays yours to close."""
        return getattr(self, "_pool", None) is not None

    async def close(self) -> None:
        """Close every connection this database opened (idempotent)."""
        raise NotImplementedError

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """``BEGIN`` now; ``COMMIT`` when the block ends, ``ROLLBACK`` if it raises anything,
        cancellation included."""
        raise NotImplementedError

    async def processed(self, scope: str, message_id: str) -> bool:
        """Whether a committed transaction claimed ``message_id`` in ``scope``."""
        raise NotImplementedError

    async def prune(self, *, older_than: Seconds) -> int:
        """Delete claims made more than ``older_than`` ago; returns how many.

        A message redelivered after its claim was pruned is processed again: keep claims
        longer than the broker can redeliver or replay a message.
        """
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
