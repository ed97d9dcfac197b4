"""Sagas in a SQLite database, next to its inbox and outbox (WAL, ``BEGIN IMMEDIATE``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlink.outbox._base import table_name
from interlink.saga._errors import OwnershipLost
from interlink.saga._store import Events, SagaRow

if TYPE_CHECKING:
    from interlink.messaging.inbox import SqliteDatabase

__all__ = ["SqliteSagaStore"]

_COLUMNS = "id, name, key, status, version, owner, lease_until, state, created_at, updated_at"
_ACTIVE = "('RUNNING', 'COMPENSATING')"


class SqliteSagaStore:
    def __init__(self, db: SqliteDatabase, *, table: str = "interlink_sagas") -> None:
        self.db = db
        self.table = table_name(table, qualified=False, what="saga")

    async def setup(self) -> None:
        t = self.table
        async with self.db.transaction() as tx:
            for sql in (
                f"""CREATE TABLE IF NOT EXISTS {t} (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, key TEXT, status TEXT NOT NULL,
                    version INTEGER NOT NULL, owner TEXT, lease_until REAL NOT NULL,
                    state BLOB NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL)""",
                f"CREATE UNIQUE INDEX IF NOT EXISTS {t}_key ON {t} (name, key) "
                "WHERE key IS NOT NULL",
                f"CREATE INDEX IF NOT EXISTS {t}_due ON {t} (lease_until) "
                f"WHERE status IN {_ACTIVE}",
                f"CREATE INDEX IF NOT EXISTS {t}_created ON {t} (created_at)",
            ):
                await tx.connection.execute(sql)

    async def insert(self, row: SagaRow, events: Events = ()) -> str:
        async with self.db.transaction() as tx:
            conn = tx.connection
            if row.key is not None:
                sql = f"SELECT id FROM {self.table} WHERE name = ? AND key = ?"
                async with conn.execute(sql, (row.name, row.key)) as cursor:
                    found = await cursor.fetchone()
                if found is not None:
                    return str(found[0])
            await conn.execute(
                f"INSERT INTO {self.table} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row.values(),
            )
            for topic, envelope in events:
                await tx.add_event(envelope, topic=topic)
        return row.id

    async def update(self, row: SagaRow, *, expected: int, events: Events = ()) -> None:
        sql = (
            f"UPDATE {self.table} SET status = ?, version = ?, owner = ?, lease_until = ?, "
            "state = ?, updated_at = ? WHERE id = ? AND version = ?"
        )
        params = (row.status, row.version, row.owner, row.lease_until, row.state)
        async with self.db.transaction() as tx:
            cursor = await tx.connection.execute(sql, (*params, row.updated_at, row.id, expected))
            if cursor.rowcount != 1:
                raise OwnershipLost(f"saga {row.id} moved past version {expected}")
            for topic, envelope in events:
                await tx.add_event(envelope, topic=topic)

    async def acquire(
        self, saga_id: str, *, owner: str, now: float, lease_until: float
    ) -> SagaRow | None:
        sql = (
            f"UPDATE {self.table} SET owner = ?, lease_until = ?, version = version + 1 "
            f"WHERE id = ? AND status IN {_ACTIVE} "
            "AND (owner IS NULL OR owner = ? OR lease_until <= ?)"
        )
        async with self.db.transaction() as tx:
            cursor = await tx.connection.execute(sql, (owner, lease_until, saga_id, owner, now))
            if cursor.rowcount != 1:
                return None
            return await self._fetch(tx.connection, saga_id)

    async def get(self, saga_id: str) -> SagaRow | None:
        async with self.db.transaction() as tx:
            return await self._fetch(tx.connection, saga_id)

    async def find(self, name: str, key: str) -> SagaRow | None:
        sql = f"SELECT {_COLUMNS} FROM {self.table} WHERE name = ? AND key = ?"
        async with self.db.transaction() as tx, tx.connection.execute(sql, (name, key)) as c:
            found = await c.fetchone()
        return None if found is None else SagaRow.from_values(found)

    async def due(self, *, now: float, owner: str, limit: int) -> list[str]:
        sql = (
            f"SELECT id FROM {self.table} WHERE status IN {_ACTIVE} "
            "AND (lease_until <= ? OR owner = ?) ORDER BY lease_until LIMIT ?"
        )
        params = (now, owner, limit)
        async with self.db.transaction() as tx, tx.connection.execute(sql, params) as c:
            return [str(r[0]) for r in await c.fetchall()]

    async def list(self, *, status: str | None = None, limit: int = 100) -> list[SagaRow]:
        where, params = ("WHERE status = ?", (status,)) if status else ("", ())
        sql = f"SELECT {_COLUMNS} FROM {self.table} {where} ORDER BY created_at DESC LIMIT ?"
        async with self.db.transaction() as tx, tx.connection.execute(sql, (*params, limit)) as c:
            return [SagaRow.from_values(r) for r in await c.fetchall()]

    async def counts(self) -> dict[tuple[str, str], int]:
        sql = f"SELECT name, status, COUNT(*) FROM {self.table} GROUP BY name, status"
        async with self.db.transaction() as tx, tx.connection.execute(sql) as cursor:
            return {(str(n), str(s)): int(c) for n, s, c in await cursor.fetchall()}

    async def _fetch(self, conn: Any, saga_id: str) -> SagaRow | None:
        sql = f"SELECT {_COLUMNS} FROM {self.table} WHERE id = ?"
        async with conn.execute(sql, (saga_id,)) as cursor:
            found = await cursor.fetchone()
        return None if found is None else SagaRow.from_values(found)
