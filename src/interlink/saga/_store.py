"""The ``SagaStore`` seam: one row per saga, written with version fencing.

A backend (one module each: SQLite, PostgreSQL) keeps the row in the same database as the
inbox and outbox, so a saga's new state and the commands it causes commit in one transaction.

Invariant (fencing): every write names the version it read, and bumps it. A worker whose
version is stale (another took the saga over after its lease ran out) writes nothing and gets
:class:`~interlink.saga.OwnershipLost`, so two workers never advance one saga.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from interlink._envelope import Envelope
    from interlink.messaging.inbox import Database

__all__ = ["SagaRow", "SagaStore", "store_for"]

Events = Sequence[tuple[str, "Envelope"]]
"""Outbox rows (topic, envelope) to commit with a write."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SagaRow:
    id: str
    name: str
    key: str | None
    status: str
    version: int
    owner: str | None
    lease_until: float
    """Epoch seconds after which another worker may take the saga over (and when it is due)."""
    state: bytes
    created_at: float
    updated_at: float

    def evolve(self, **changes: Any) -> SagaRow:
        return replace(self, **changes)

    def values(self) -> tuple[Any, ...]:
        """The columns, in table order (``SELECT`` and ``INSERT`` use the same order)."""
        return (
            self.id,
            self.name,
            self.key,
            self.status,
            self.version,
            self.owner,
            self.lease_until,
            self.state,
            self.created_at,
            self.updated_at,
        )

    @classmethod
    def from_values(cls, values: Any) -> SagaRow:
        """A row read back from either database (``values`` in table order)."""
        id_, name, key, status, version, owner, lease, state, created, updated = values
        return cls(
            id=id_,
            name=name,
            key=key,
            status=status,
            version=int(version),
            owner=owner,
            lease_until=float(lease),
            state=bytes(state),
            created_at=float(created),
            updated_at=float(updated),
        )


class SagaStore(Protocol):
    """Where sagas live. Writes are fenced on ``version`` (see the module's invariant)."""

    async def setup(self) -> None:
        """Create the table if it is missing (safe on every start)."""

    async def insert(self, row: SagaRow, events: Events = ()) -> str:
        """Store a new saga; when one of the same name and key exists, store nothing and
        return that one's id."""

    async def update(self, row: SagaRow, *, expected: int, events: Events = ()) -> None:
        """Replace the row if its stored version is ``expected`` (``row.version`` is the new
        one), with ``events`` in the same transaction; else raise ``OwnershipLost``."""

    async def acquire(
        self, saga_id: str, *, owner: str, now: float, lease_until: float
    ) -> SagaRow | None:
        """Take an active saga whose lease has run out (or that ``owner`` holds): bumps its
        version. None when another worker holds it, or it is not active."""

    async def get(self, saga_id: str) -> SagaRow | None: ...

    async def find(self, name: str, key: str) -> SagaRow | None:
        """The saga ``name`` started with ``key``."""

    async def due(self, *, now: float, owner: str, limit: int) -> list[str]:
        """Ids of active sagas whose lease has run out, or that ``owner`` holds (a restarted
        worker with the same identity takes its own sagas back at once)."""

    async def list(self, *, status: str | None = None, limit: int = 100) -> list[SagaRow]:
        """Sagas, newest first."""

    async def counts(self) -> dict[tuple[str, str], int]:
        """How many sagas the table holds, by (name, status)."""


def store_for(db: Database, *, table: str = "interlink_sagas") -> SagaStore:
    """The store for ``db``'s backend, in the same database as its inbox and outbox."""
    from interlink.messaging.inbox import PostgresDatabase, SqliteDatabase

    if isinstance(db, SqliteDatabase):
        from interlink.saga._sqlite import SqliteSagaStore

        return SqliteSagaStore(db, table=table)
    if isinstance(db, PostgresDatabase):
        from interlink.saga._postgres import PostgresSagaStore

        return PostgresSagaStore(db, table=table)
    raise TypeError(f"no saga store for {db!r}")
