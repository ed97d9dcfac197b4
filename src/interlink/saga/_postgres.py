"""Sagas in PostgreSQL, next to its inbox and outbox (READ COMMITTED; row locks fence)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interlink.outbox._base import table_name
from interlink.saga._errors import OwnershipLost
from interlink.saga._store import Events, SagaRow

if TYPE_CHECKING:
    from interlink.messaging.inbox import PostgresDatabase

__all__ = ["PostgresSagaStore"]

_COLUMNS = "id, name, key, status, version, owner, lease_until, state, created_at, updated_at"
_ACTIVE = "('RUNNING', 'COMPENSATING')"


class PostgresSagaStore:
    def __init__(self, db: PostgresDatabase, *, table: str = "interlink_sagas") -> None:
        self.db = db
        self.table = table_name(table, qualified=True, what="saga")
        self._index = self.table.rpartition(".")[2]

    async def setup(self) -> None:
        t, i = self.table, self._index
        async with self.db.transaction() as tx:
            conn = tx.connection
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", t)
            await conn.execute(
                f"""
                CREATE TABLE IF NOT EXISTS {t} (
                    id TEXT PRIMARY KEY, name TEXT NOT NULL, key TEXT, status TEXT NOT NULL,
                    version BIGINT NOT NULL, owner TEXT, lease_until DOUBLE PRECISION NOT NULL,
                    state BYTEA NOT NULL, created_at DOUBLE PRECISION NOT NULL,
                    updated_at DOUBLE PRECISION NOT NULL);
                CREATE UNIQUE INDEX IF NOT EXISTS {i}_key ON {t} (name, key)
                    WHERE key IS NOT NULL;
                CREATE INDEX IF NOT EXISTS {i}_due ON {t} (lease_until)
                    WHERE status IN {_ACTIVE};
                CREATE INDEX IF NOT EXISTS {i}_created ON {t} (created_at);
                """
            )

    async def insert(self, row: SagaRow, events: Events = ()) -> str:
        sql = (
            f"INSERT INTO {self.table} ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
            "$10) ON CONFLICT (name, key) WHERE key IS NOT NULL DO NOTHING RETURNING id"
        )
        async with self.db.transaction() as tx:
            conn = tx.connection
            inserted = await conn.fetchval(sql, *row.values())
            if inserted is None:
                found = await conn.fetchval(
                    f"SELECT id FROM {self.table} WHERE name = $1 AND key = $2", row.name, row.key
                )
                return str(found)
            for topic, envelope in events:
                await tx.add_event(envelope, topic=topic)
        return row.id

    async def update(self, row: SagaRow, *, expected: int, events: Events = ()) -> None:
        sql = (
            f"UPDATE {self.table} SET status = $1, version = $2, owner = $3, lease_until = $4, "
            "state = $5, updated_at = $6 WHERE id = $7 AND version = $8"
        )
        params = (row.status, row.version, row.owner, row.lease_until, row.state, row.updated_at)
        async with self.db.transaction() as tx:
            status = await tx.connection.execute(sql, *params, row.id, expected)
            if status != "UPDATE 1":
                raise OwnershipLost(f"saga {row.id} moved past version {expected}")
            for topic, envelope in events:
                await tx.add_event(envelope, topic=topic)

    async def acquire(
        self, saga_id: str, *, owner: str, now: float, lease_until: float
    ) -> SagaRow | None:
        sql = (
            f"UPDATE {self.table} SET owner = $1, lease_until = $2, version = version + 1 "
            f"WHERE id = $3 AND status IN {_ACTIVE} "
            f"AND (owner IS NULL OR owner = $1 OR lease_until <= $4) RETURNING {_COLUMNS}"
        )
        async with self.db.transaction() as tx:
            found = await tx.connection.fetchrow(sql, owner, lease_until, saga_id, now)
        return None if found is None else SagaRow.from_values(found)

    async def get(self, saga_id: str) -> SagaRow | None:
        sql = f"SELECT {_COLUMNS} FROM {self.table} WHERE id = $1"
        async with self.db.transaction() as tx:
            found = await tx.connection.fetchrow(sql, saga_id)
        return None if found is None else SagaRow.from_values(found)

    async def find(self, name: str, key: str) -> SagaRow | None:
        sql = f"SELECT {_COLUMNS} FROM {self.table} WHERE name = $1 AND key = $2"
        async with self.db.transaction() as tx:
            found = await tx.connection.fetchrow(sql, name, key)
        return None if found is None else SagaRow.from_values(found)

    async def due(self, *, now: float, owner: str, limit: int) -> list[str]:
        sql = (
            f"SELECT id FROM {self.table} WHERE status IN {_ACTIVE} "
            "AND (lease_until <= $1 OR owner = $2) ORDER BY lease_until LIMIT $3"
        )
        async with self.db.transaction() as tx:
            return [str(r[0]) for r in await tx.connection.fetch(sql, now, owner, limit)]

    async def list(self, *, status: str | None = None, limit: int = 100) -> list[SagaRow]:
        where = "WHERE status = $2" if status else ""
        sql = f"SELECT {_COLUMNS} FROM {self.table} {where} ORDER BY created_at DESC LIMIT $1"
        params: tuple[Any, ...] = (limit, status) if status else (limit,)
        async with self.db.transaction() as tx:
            return [SagaRow.from_values(r) for r in await tx.connection.fetch(sql, *params)]

    async def counts(self) -> dict[tuple[str, str], int]:
        sql = f"SELECT name, status, COUNT(*) FROM {self.table} GROUP BY name, status"
        async with self.db.transaction() as tx:
            return {(str(r[0]), str(r[1])): int(r[2]) for r in await tx.connection.fetch(sql)}
