"""Crashes: a real orchestrator process SIGKILLed after each of its commits (before what the
commit causes is sent) and after each participant's effect (before the saga recorded it), on
SQLite and PostgreSQL. Restarted, it finishes the saga in the right state, and every
participant's effect happened exactly once."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from interlink.messaging.inbox import Database
from tests.integration.inbox.effects import Effects

ROOT = Path(__file__).resolve().parents[3]

COMPLETE = ["reserve:action", "charge:action", "ship:action"]
COMPENSATE = ["reserve:action", "charge:action", "charge:compensate", "reserve:compensate"]
# insert (reserve begun), charge begun, ship begun, COMPLETED
COMPLETE_KILLS = [f"commit:{n}" for n in range(1, 5)] + [f"effect:{e}" for e in COMPLETE]
# insert, charge begun, ship begun, undo charge begun, undo reserve begun, COMPENSATED
COMPENSATE_KILLS = [f"commit:{n}" for n in range(1, 7)] + [f"effect:{e}" for e in COMPENSATE]


async def child(url: str, prefix: str, flow: str, kill: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.integration.saga.crash_child"),
        *(url, prefix, flow, kill),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    return process.returncode or 0, out.decode().strip()


async def effects_of(url: str, prefix: str, saga_key_suffixes: list[str]) -> Counter[str]:
    async with Database(url, table=f"{prefix}_inbox", outbox_table=f"{prefix}_outbox") as db:
        rows = await Effects(db, f"{prefix}_effects").rows()
    return Counter(key.split(":", 1)[1] for key, _ in rows)


@pytest.mark.parametrize(
    ("flow", "kill", "final", "expected"),
    [("complete", k, "COMPLETED", COMPLETE) for k in COMPLETE_KILLS]
    + [("compensate", k, "COMPENSATED", COMPENSATE) for k in COMPENSATE_KILLS],
)
async def test_killed_and_restarted_every_effect_happens_once(
    url: str, prefix: str, flow: str, kill: str, final: str, expected: list[str]
) -> None:
    code, _ = await child(url, prefix, flow, kill)
    assert code == -signal.SIGKILL  # the kill point exists in this flow
    code, out = await child(url, prefix, flow, "none")
    assert (code, out) == (0, final)
    assert await effects_of(url, prefix, expected) == Counter(expected)
