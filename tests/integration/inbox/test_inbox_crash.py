"""Crashes: a real child process SIGKILLed after its commit, inside its transaction, or at an
arbitrary point of a stream of messages. Afterwards the inbox, the user's table and the outbox
agree about every message (its claim, its effect and its event all exist, or none does), and
redelivering everything produces each effect exactly once."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from pathlib import Path

from interlink.messaging.inbox import Database
from tests.conftest import eventually
from tests.integration.inbox.effects import SCOPE, Effects, handle

ROOT = Path(__file__).resolve().parents[3]


async def start_child(
    mode: str, url: str, prefix: str, markers: Path
) -> asyncio.subprocess.Process:
    markers.mkdir(exist_ok=True)
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.integration.inbox.crash_child"),
        *(mode, url, prefix, str(markers)),
        cwd=ROOT,
    )


async def run_child(mode: str, url: str, prefix: str, markers: Path) -> None:
    """Run the child until it kills itself."""
    process = await start_child(mode, url, prefix, markers)
    async with asyncio.timeout(30):
        returncode = await process.wait()
    assert returncode == -signal.SIGKILL
    assert not (markers / "returned").exists()


async def state(db: Database, effects: Effects, message_id: str) -> tuple[bool, int, bool]:
    """(claimed, how many effects, whether its event is in the outbox) for one message."""
    effect_count = Counter(await effects.message_ids())[message_id]
    event = await db.outbox.get(f"evt-{message_id}")
    return await db.processed(SCOPE, message_id), effect_count, event is not None


async def test_killed_right_after_commit_keeps_claim_effect_and_event(
    db: Database, effects: Effects, url: str, prefix: str, tmp_path: Path
) -> None:
    await run_child("kill-after-commit", url, prefix, tmp_path / "markers")
    assert (tmp_path / "markers" / "committed").exists()

    assert await state(db, effects, "m1") == (True, 1, True)
    assert await handle(db, effects, "m1") is False  # the redelivery is a duplicate
    assert await state(db, effects, "m1") == (True, 1, True)


async def test_killed_inside_the_transaction_leaves_nothing_then_runs_once(
    db: Database, effects: Effects, url: str, prefix: str, tmp_path: Path
) -> None:
    await run_child("kill-before-commit", url, prefix, tmp_path / "markers")
    assert (tmp_path / "markers" / "inside").exists()

    assert await state(db, effects, "m1") == (False, 0, False)
    async with asyncio.timeout(10):  # the dead writer's lock is gone
        assert await handle(db, effects, "m1") is True
    assert await state(db, effects, "m1") == (True, 1, True)


async def test_killed_at_an_arbitrary_point_every_message_is_all_or_nothing(
    db: Database, effects: Effects, url: str, prefix: str, tmp_path: Path
) -> None:
    process = await start_child("run", url, prefix, tmp_path / "markers")
    try:

        async def progressed() -> bool:
            return len(await effects.message_ids()) >= 30

        await eventually(progressed, timeout=30)
    finally:
        process.kill()  # SIGKILL, wherever it is: between statements, mid-COMMIT, ...
        await process.wait()
    assert process.returncode == -signal.SIGKILL

    handled = Counter(await effects.message_ids())
    last = max(int(message_id.removeprefix("m")) for message_id in handled)
    ids = [f"m{n}" for n in range(last + 3)]  # past the last effect: the one it died on
    for message_id in ids:
        claimed, effect_count, event = await state(db, effects, message_id)
        assert (claimed, effect_count, event) in {(True, 1, True), (False, 0, False)}, message_id

    for message_id in ids:  # the broker redelivers everything
        await handle(db, effects, message_id)
    assert Counter(await effects.message_ids()) == Counter(ids)  # every effect exactly once
    assert await db.outbox.pending() == len(ids)
