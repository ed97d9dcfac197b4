"""The inbox contract, run against SQLite and a real PostgreSQL server.

A claim, the user's writes on ``tx.connection`` and the outbox rows of one transaction commit
together or not at all; a claimed id is a duplicate for every later transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

from interlink.messaging.inbox import Database
from interlink.testing import FakeClock
from tests.integration.inbox.effects import SCOPE, TOPIC, Effects, event_for, handle


class Declined(Exception):
    pass


async def declining_handler(db: Database, effects: Effects) -> None:
    async with db.transaction() as tx:
        assert await tx.claim(SCOPE, "m1")
        await effects.insert(tx, "m1")
        await tx.add_event(event_for("m1"), topic=TOPIC)
        raise Declined


async def outbox_ids(db: Database) -> list[str]:
    """What an outbox relay would be handed now (committed, unsent rows)."""
    async with db.outbox.claim(100) as claim:
        return [row.id for row in claim.rows]


async def test_a_committed_claim_is_processed_and_invisible_until_commit(db: Database) -> None:
    async with db.transaction() as tx:
        assert await tx.claim(SCOPE, "m1") is True
        assert await db.processed(SCOPE, "m1") is False  # another connection: not committed yet

    assert await db.processed(SCOPE, "m1") is True
    assert await db.processed(SCOPE, "m2") is False


async def test_a_second_claim_of_the_same_id_is_a_duplicate(db: Database) -> None:
    async with db.transaction() as tx:
        assert await tx.claim(SCOPE, "m1") is True
        assert await tx.claim(SCOPE, "m1") is False  # twice in one transaction, too

    async with db.transaction() as tx:
        assert await tx.claim(SCOPE, "m1") is False
        assert await tx.claim("shipping.on_placed", "m1") is True  # scopes are separate
        assert await tx.claim(SCOPE, "m2") is True


async def test_the_handler_commits_claim_effect_and_event_together(
    db: Database, effects: Effects
) -> None:
    assert await handle(db, effects, "m1") is True
    assert await handle(db, effects, "m1") is False  # the redelivery is skipped

    assert await db.processed(SCOPE, "m1") is True
    assert await effects.message_ids() == ["m1"]
    assert await outbox_ids(db) == ["evt-m1"]


async def test_outbox_rows_of_a_transaction_reach_the_relay_only_after_commit(
    db: Database,
) -> None:
    envelope = event_for("m1")
    async with db.transaction() as tx:
        await tx.add_event(envelope, topic=TOPIC)
        assert await outbox_ids(db) == []
        assert await db.outbox.pending() == 0

    async with db.outbox.claim(10) as claim:
        [row] = claim.rows
        await claim.mark_sent(row)
    assert (row.id, row.topic, row.body) == (envelope.id, TOPIC, envelope.to_bytes())
    assert await db.outbox.pending() == 0


async def test_an_exception_rolls_back_claim_effect_and_event(
    db: Database, effects: Effects
) -> None:
    with pytest.raises(Declined):
        await declining_handler(db, effects)

    assert await db.processed(SCOPE, "m1") is False
    assert await effects.message_ids() == []
    assert await outbox_ids(db) == []
    assert await db.outbox.get("evt-m1") is None
    assert await handle(db, effects, "m1") is True  # the redelivery does the work, once


async def test_cancellation_inside_the_block_rolls_back(db: Database, effects: Effects) -> None:
    inside = asyncio.Event()

    async def handler() -> None:
        async with db.transaction() as tx:
            await tx.claim(SCOPE, "m1")
            await effects.insert(tx, "m1")
            await tx.add_event(event_for("m1"), topic=TOPIC)
            inside.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(handler())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await db.processed(SCOPE, "m1") is False
    assert await effects.message_ids() == []
    assert await outbox_ids(db) == []
    # The connection came back usable, holding no lock: the next transaction commits at once.
    async with asyncio.timeout(5):
        assert await handle(db, effects, "m1") is True
    assert await effects.message_ids() == ["m1"]


async def test_concurrent_claims_of_one_id_commit_exactly_one_effect(
    db: Database, effects: Effects
) -> None:
    async def worker(n: int) -> bool:
        async with db.transaction() as tx:
            await effects.fetch(tx, f"SELECT count(*) FROM {effects.table}")  # read, then write
            if not await tx.claim(SCOPE, "m1"):
                return False
            await asyncio.sleep(0.01)  # hold the claim open while the others pile up on it
            await effects.insert(tx, "m1", worker=n)
        return True

    results = await asyncio.gather(*(worker(n) for n in range(20)), return_exceptions=True)

    assert sorted(results, key=repr) == [False] * 19 + [True]  # no errors, one winner
    [winner] = [n for n, won in enumerate(results) if won is True]
    assert await effects.rows() == [("m1", winner)]
    assert await db.processed(SCOPE, "m1") is True


async def test_prune_deletes_claims_older_than_the_retention_only(
    make_database: Callable[..., Database],
) -> None:
    clock = FakeClock()
    async with make_database(clock=clock) as db:
        async with db.transaction() as tx:
            await tx.claim(SCOPE, "old")
        clock.advance(timedelta(hours=2))
        async with db.transaction() as tx:
            await tx.claim(SCOPE, "new")
        clock.advance(timedelta(minutes=30))

        assert await db.prune(older_than=timedelta(hours=1)) == 1
        assert await db.processed(SCOPE, "old") is False
        assert await db.processed(SCOPE, "new") is True
        assert await db.prune(older_than=3600.0) == 0
        # A pruned id is no longer recognised: a redelivery this late would run again.
        async with db.transaction() as tx:
            assert await tx.claim(SCOPE, "old") is True


async def test_long_ids_are_hashed_whole_never_truncated(db: Database) -> None:
    shared = "x" * 5000
    first, second = shared + "1", shared + "2"
    long_scope = "s" * 1000
    async with db.transaction() as tx:
        assert await tx.claim(SCOPE, first) is True
        assert await tx.claim(SCOPE, second) is True  # same first 5000 characters, still distinct
        assert await tx.claim(long_scope, first) is True
        assert await tx.claim(long_scope + "t", first) is True
        assert await tx.claim(SCOPE, "nul\x00byte") is True

    assert await db.processed(SCOPE, first) is True
    assert await db.processed(SCOPE, second) is True
    assert await db.processed(SCOPE, "nul\x00byte") is True
    assert await db.processed(SCOPE, shared) is False
    async with db.transaction() as tx:
        assert await tx.claim(SCOPE, second) is False
        assert await tx.claim(long_scope, second) is True


async def test_an_id_that_looks_like_a_hash_never_meets_a_hashed_one(db: Database) -> None:
    import hashlib

    long_id = "y" * 300
    lookalike = "sha256:" + hashlib.sha256(long_id.encode()).hexdigest()
    async with db.transaction() as tx:
        assert await tx.claim(SCOPE, long_id) is True
        assert await tx.claim(SCOPE, lookalike) is True


async def test_an_empty_message_id_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="empty message id"):
        async with db.transaction() as tx:
            await tx.claim(SCOPE, "")


async def test_open_is_idempotent_and_a_second_database_shares_the_tables(
    db: Database, make_database: Callable[..., Database]
) -> None:
    await db.open()
    async with db.transaction() as tx:
        await tx.claim(SCOPE, "m1")
    async with make_database() as other:
        assert await other.processed(SCOPE, "m1") is True
        async with other.transaction() as tx:
            assert await tx.claim(SCOPE, "m1") is False


async def test_a_database_that_is_not_open_says_so(make_database: Callable[..., Database]) -> None:
    db = make_database()
    with pytest.raises(RuntimeError, match="not open"):
        await db.processed(SCOPE, "m1")
    with pytest.raises(RuntimeError, match="not open"):
        async with db.transaction():
            pass
    await db.close()  # closing what was never opened is harmless
