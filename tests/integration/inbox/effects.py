"""The user's side of the inbox tests: an ``effects`` table written through ``tx.connection``,
and the handler every test (and the crash child) runs.

``effects`` has no unique constraint on ``message_id``: a message processed twice shows up as
two rows, rather than as an error that would hide it.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import msgspec

from interlink._envelope import Envelope
from interlink.messaging.inbox import Database, SqliteDatabase, Transaction

SCOPE = "billing.on_placed"
TOPIC = "invoices.created"


def event_for(message_id: str) -> Envelope:
    """The event the handler publishes for ``message_id`` (its id is derived, for lookups)."""
    return Envelope(
        id=f"evt-{message_id}",
        source="billing",
        type=TOPIC,
        specversion="1.0",
        data=msgspec.Raw(msgspec.json.encode({"message": message_id})),
    )


class Effects:
    """A table of the user's own, in the same database as the inbox."""

    def __init__(self, db: Database, table: str) -> None:
        self.db = db
        self.table = table
        self.sqlite = isinstance(db, SqliteDatabase)

    async def create(self) -> None:
        seq = (
            "seq INTEGER PRIMARY KEY"
            if self.sqlite
            else "seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        )
        async with self.db.transaction() as tx:
            await self.execute(
                tx,
                f"CREATE TABLE IF NOT EXISTS {self.table} "
                f"({seq}, message_id TEXT NOT NULL, worker INTEGER NOT NULL)",
            )

    async def insert(self, tx: Transaction, message_id: str, worker: int = 0) -> None:
        sql = f"INSERT INTO {self.table} (message_id, worker) VALUES (?, ?)"
        await self.execute(tx, sql, message_id, worker)

    async def rows(self) -> list[tuple[str, int]]:
        """Every (message_id, worker) row, in insertion order, duplicates included."""
        async with self.db.transaction() as tx:
            found = await self.fetch(
                tx, f"SELECT message_id, worker FROM {self.table} ORDER BY seq"
            )
        return [(row[0], row[1]) for row in found]

    async def message_ids(self) -> list[str]:
        return [message_id for message_id, _ in await self.rows()]

    async def execute(self, tx: Transaction, sql: str, *args: Any) -> None:
        if self.sqlite:
            await tx.connection.execute(sql, args)
        else:
            await tx.connection.execute(_numbered(sql), *args)

    async def fetch(self, tx: Transaction, sql: str, *args: Any) -> list[Any]:
        if self.sqlite:
            async with tx.connection.execute(sql, args) as cursor:
                return list(await cursor.fetchall())
        return list(await tx.connection.fetch(_numbered(sql), *args))


def _numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, …``."""
    counter = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


async def handle(db: Database, effects: Effects, message_id: str) -> bool:
    """The handler under test: claim, effect and event in one transaction. False: a duplicate."""
    async with db.transaction() as tx:
        if not await tx.claim(SCOPE, message_id):
            return False
        await effects.insert(tx, message_id)
        await tx.add_event(event_for(message_id), topic=TOPIC)
    return True
