"""A process SIGKILLed in the middle of the inbox's work; test_inbox_crash drives it.

    python -m tests.integration.inbox.crash_child MODE URL PREFIX MARKERS

``kill-after-commit``: handle message m1 (claim, effect, event), commit, touch
``MARKERS/committed``, then die.
``kill-before-commit``: claim m1, write its effect and event, touch ``MARKERS/inside``, and die
inside the transaction.
``run``: handle m0, m1, … one after another until the parent kills it, at whatever point it is.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from interlink.messaging.inbox import Database
from tests.integration.inbox.effects import SCOPE, TOPIC, Effects, event_for, handle


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def kill_after_commit(db: Database, effects: Effects, markers: Path) -> None:
    await handle(db, effects, "m1")
    (markers / "committed").touch()
    die()


async def kill_before_commit(db: Database, effects: Effects, markers: Path) -> None:
    async with db.transaction() as tx:
        await tx.claim(SCOPE, "m1")
        await effects.insert(tx, "m1")
        await tx.add_event(event_for("m1"), topic=TOPIC)
        (markers / "inside").touch()
        die()


async def run(db: Database, effects: Effects, markers: Path) -> None:
    for n in range(100_000):
        await handle(db, effects, f"m{n}")


async def main(mode: str, url: str, prefix: str, markers: str) -> None:
    scenarios = {
        "kill-after-commit": kill_after_commit,
        "kill-before-commit": kill_before_commit,
        "run": run,
    }
    async with Database(url, table=f"{prefix}_inbox", outbox_table=f"{prefix}_outbox") as db:
        await scenarios[mode](db, Effects(db, f"{prefix}_effects"), Path(markers))
    (Path(markers) / "returned").touch()  # the scenario should have died before this


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
