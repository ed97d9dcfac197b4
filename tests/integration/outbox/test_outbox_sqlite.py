"""SQLite specifics, the driver error, and the package's public surface."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest

import interlink as il
import interlink.outbox
from interlink._errors import ConfigurationError
from interlink.outbox import SqliteOutbox
from interlink.outbox._base import load_driver

TOPIC = "orders.placed"


def test_the_public_surface_is_pinned() -> None:
    assert interlink.outbox.__all__ == [
        "Claim",
        "Outbox",
        "OutboxRelay",
        "OutboxRow",
        "PostgresOutbox",
        "SqliteOutbox",
    ]


@pytest.mark.parametrize("database", [":memory:", "file::memory:?cache=shared"])
def test_an_in_memory_database_is_refused(database: str) -> None:
    with pytest.raises(ConfigurationError, match="needs a database file"):
        SqliteOutbox(database)


def test_a_missing_driver_names_the_extra_to_install() -> None:
    with pytest.raises(ConfigurationError, match=r"pip install 'interlink\[sqlite\]'"):
        load_driver("interlink_no_such_driver", "sqlite")


async def test_add_on_an_autocommit_connection_outside_begin_is_refused(
    tmp_path: Path, ctx: il.Context
) -> None:
    async with SqliteOutbox(tmp_path / "app.db") as outbox:
        await outbox.setup()
        envelope = ctx.event(TOPIC, {"n": 1})
        async with aiosqlite.connect(tmp_path / "app.db", isolation_level=None) as conn:
            with pytest.raises(ConfigurationError, match="inside a transaction"):
                await outbox.add(conn, envelope, topic=TOPIC)
            await conn.execute("BEGIN")
            await outbox.add(conn, envelope, topic=TOPIC)
            await conn.execute("COMMIT")
        assert await outbox.pending() == 1


async def test_a_write_is_invisible_to_the_relay_until_the_user_commits(
    tmp_path: Path, ctx: il.Context
) -> None:
    async with SqliteOutbox(tmp_path / "app.db") as outbox:
        await outbox.setup()
        async with aiosqlite.connect(tmp_path / "app.db") as conn:
            await outbox.publish(conn, ctx, TOPIC, {"n": 1})
            assert await outbox.pending() == 0
            async with outbox.claim(10) as claim:
                assert list(claim.rows) == []
            await conn.commit()
        assert await outbox.pending() == 1
