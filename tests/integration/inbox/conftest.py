"""Fixtures for the inbox suites: one ``Database`` per backend, with fresh tables per test.

SQLite gets a file in the test's temporary directory; PostgreSQL is the session's real server
(``postgres_dsn`` from ``tests/conftest.py``), with table names unique to the test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from interlink.messaging.inbox import Database
from tests.integration.inbox.effects import Effects


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return str(request.getfixturevalue("postgres_dsn"))


@pytest.fixture
def prefix() -> str:
    """A fresh table-name prefix per test, so tests never see each other's rows."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_database(url: str, prefix: str) -> Callable[..., Database]:
    """``Database(url, **options)`` on this test's tables; the test opens and closes it."""

    def make(**options: Any) -> Database:
        tables = {"table": f"{prefix}_inbox", "outbox_table": f"{prefix}_outbox"}
        return Database(url, **tables, **options)

    return make


@pytest.fixture
async def db(make_database: Callable[..., Database]) -> AsyncIterator[Database]:
    async with make_database() as opened:
        yield opened


@pytest.fixture
async def effects(db: Database, prefix: str) -> Effects:
    created = Effects(db, f"{prefix}_effects")
    await created.create()
    return created
