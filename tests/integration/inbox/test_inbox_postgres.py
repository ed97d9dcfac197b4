"""PostgreSQL specifics: a claim waits for a concurrent uncommitted claim of the same id and
follows its outcome; schema-qualified tables; every connection is closed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from interlink.messaging.inbox import Database
from tests.conftest import eventually
from tests.integration.inbox.effects import SCOPE


@pytest.fixture
def url(postgres_dsn: str) -> str:
    return postgres_dsn


@pytest.fixture
async def observer(postgres_dsn: str) -> AsyncIterator[Any]:
    """A connection of the test's own, to look at the server's sessions."""
    conn = await asyncpg.connect(postgres_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def db(url: str, prefix: str) -> AsyncIterator[Database]:
    async with Database(url, table=f"{prefix}_inbox", outbox_table=f"{prefix}_outbox") as opened:
        yield opened


def waiting_on_a_lock(observer: Any) -> Any:
    async def check() -> bool:
        waiting = await observer.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        )
        return bool(waiting)

    return check


@pytest.mark.parametrize(("first_commits", "second_gets"), [(True, False), (False, True)])
async def test_a_claim_waits_for_a_concurrent_claim_and_follows_its_outcome(
    db: Database, observer: Any, first_commits: bool, second_gets: bool
) -> None:
    async def second() -> bool:
        async with db.transaction() as tx:
            return await tx.claim(SCOPE, "m1")

    class Abort(Exception):
        pass

    task: asyncio.Task[bool] | None = None
    try:
        async with db.transaction() as tx:
            assert await tx.claim(SCOPE, "m1") is True
            task = asyncio.create_task(second())
            await eventually(waiting_on_a_lock(observer))  # blocked on our uncommitted row
            if not first_commits:
                raise Abort
    except Abort:
        pass
    assert task is not None
    assert await task is second_gets
    assert await db.processed(SCOPE, "m1") is True


async def test_schema_qualified_tables_work(url: str, observer: Any) -> None:
    schema = f"s{uuid.uuid4().hex[:12]}"
    await observer.execute(f"CREATE SCHEMA {schema}")
    tables = {"table": f"{schema}.inbox", "outbox_table": f"{schema}.outbox"}
    async with Database(url, **tables) as db:
        async with db.transaction() as tx:
            assert await tx.claim(SCOPE, "m1") is True
        assert await db.processed(SCOPE, "m1") is True
    assert await observer.fetchval(f"SELECT count(*) FROM {schema}.inbox") == 1


async def test_close_closes_every_connection_opened_even_by_concurrent_opens(
    url: str, prefix: str, observer: Any
) -> None:
    async def sessions() -> int:
        return int(
            await observer.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        )

    before = await sessions()
    db = Database(url, table=f"{prefix}_inbox", outbox_table=f"{prefix}_outbox")
    await asyncio.gather(db.open(), db.open(), db.open())  # three tasks starting together
    async with db, db.outbox.claim(1):  # the relay's side opens a pool of its own
        assert await sessions() > before

    async def all_closed() -> bool:
        return await sessions() == before

    await eventually(all_closed)
