"""``Database(url)``: choosing the backend, refusing bad URLs and names, the driver errors, and
the package's public surface."""

from __future__ import annotations

import sys

import pytest

import interlink
import interlink.messaging.inbox
from interlink._errors import ConfigurationError
from interlink.messaging.inbox import (
    Database,
    PostgresDatabase,
    SqliteDatabase,
    database_from_url,
)


def test_the_public_surface_is_pinned() -> None:
    assert interlink.messaging.inbox.__all__ == [
        "Database",
        "PostgresDatabase",
        "SqliteDatabase",
        "Transaction",
        "database_from_url",
    ]


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///billing.db", "billing.db"),
        ("sqlite:////srv/data/billing.db", "/srv/data/billing.db"),
    ],
)
def test_a_sqlite_url_builds_a_sqlite_database_on_that_file(url: str, path: str) -> None:
    db = Database(url)
    assert isinstance(db, SqliteDatabase)
    assert (db.url, db.path, db.table) == (url, path, "interlink_inbox")
    assert db.outbox.database == path
    assert db.outbox.table == "interlink_outbox"


@pytest.mark.parametrize("url", ["postgresql://app:secret@db:5432/billing", "postgres://app@db/b"])
def test_a_postgres_url_builds_a_postgres_database(url: str) -> None:
    db = Database(url, table="billing.inbox", outbox_table="billing.outbox")
    assert isinstance(db, PostgresDatabase)
    assert (db.url, db.table, db.outbox.table) == (url, "billing.inbox", "billing.outbox")
    assert "secret" not in repr(db)


def test_database_from_url_is_the_same_dispatch() -> None:
    db = database_from_url("sqlite:///billing.db", table="inbox", pool_size=2)
    assert isinstance(db, SqliteDatabase)
    assert db.table == "inbox"


def test_options_of_the_other_backend_are_refused() -> None:
    with pytest.raises(TypeError, match="synchronous"):
        Database("postgresql://db/billing", synchronous="FULL")


@pytest.mark.parametrize(
    "url",
    [
        "mysql://db/billing",
        "postgresql+asyncpg://db/billing",
        "billing.db",
        "",
        "sqlite://",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite://host/billing.db",
        "sqlite:///billing.db?mode=ro",
    ],
)
def test_a_bad_url_names_the_accepted_forms(url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"'sqlite:///relative/path\.db'"):
        Database(url)


def test_an_unknown_scheme_also_names_postgresql() -> None:
    with pytest.raises(ConfigurationError, match=r"'postgresql://user:password@host"):
        Database("mysql://db/billing")


@pytest.mark.parametrize("name", ["inbox; DROP TABLE x", "1inbox", "a.b.c", ""])
@pytest.mark.parametrize("url", ["sqlite:///billing.db", "postgresql://db/billing"])
def test_a_table_name_that_is_not_an_identifier_is_refused(url: str, name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"inbox table name .* not a plain SQL identifier"):
        Database(url, table=name)


def test_a_schema_qualified_table_is_postgresql_only() -> None:
    with pytest.raises(ConfigurationError, match="not a plain SQL identifier"):
        Database("sqlite:///billing.db", table="billing.inbox")


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("sqlite:///billing.db", "aiosqlite", "sqlite"),
        ("postgresql://127.0.0.1:1/billing", "asyncpg", "postgres"),
    ],
)
async def test_a_missing_driver_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, url: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package looks like
    monkeypatch.chdir(str(tmp_path))
    db = Database(url)
    with pytest.raises(
        ConfigurationError, match=rf"needs {module}: pip install 'interlink\[{extra}\]'"
    ):
        await db.open()
    await db.close()
