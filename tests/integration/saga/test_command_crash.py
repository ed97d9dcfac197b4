"""Crashes with command steps: a real App process (its saga sends commands to subscribers with an
inbox, over a real nats-server) SIGKILLed right after a saga commit (the command it wrote is in
the outbox, maybe not sent) and right after a participant committed its effect and reply (before
the reply was sent). Restarted, it finishes the saga in the right state, and every participant's
effect happened exactly once."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from interlink.messaging.inbox import Database
from tests.conftest import NatsServer
from tests.integration.inbox.effects import Effects

ROOT = Path(__file__).resolve().parents[3]

COMPLETE = ["reserve:action", "charge:action", "ship:action"]
COMPENSATE = ["reserve:action", "charge:action", "charge:compensate", "reserve:compensate"]
# Commits: 1 insert (reserve begun), 2 reserve's command, 3 charge begun, 4 charge's command,
# 5 ship begun, 6 ship's command, then COMPLETED (7) — or, ship declined, 7 undo charge begun,
# 8 its command, 9 undo reserve begun, 10 its command, 11 COMPENSATED.
CASES = [
    ("complete", "commit:2", "COMPLETED", COMPLETE),
    ("complete", "commit:5", "COMPLETED", COMPLETE),
    ("complete", "effect:charge:action", "COMPLETED", COMPLETE),
    ("compensate", "commit:6", "COMPENSATED", COMPENSATE),
    ("compensate", "commit:8", "COMPENSATED", COMPENSATE),
    ("compensate", "effect:charge:compensate", "COMPENSATED", COMPENSATE),
]


async def child(url: str, prefix: str, broker: str, flow: str, kill: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.integration.saga.command_crash_child"),
        *(url, prefix, broker, flow, kill),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    return process.returncode or 0, out.decode().strip()


# Every case on SQLite; two on PostgreSQL (the same code above the store: a few are enough there).
RUNS = [("sqlite", *case) for case in CASES] + [("postgres", *CASES[0]), ("postgres", *CASES[-1])]


@pytest.mark.parametrize(("backend", "flow", "kill", "final", "expected"), RUNS)
async def test_killed_and_restarted_every_command_takes_effect_once(
    url: str,
    prefix: str,
    nats_server: NatsServer,
    flow: str,
    kill: str,
    final: str,
    expected: list[str],
) -> None:
    code, _ = await child(url, prefix, nats_server.url, flow, kill)
    assert code == -signal.SIGKILL  # the kill point exists in this flow
    code, out = await child(url, prefix, nats_server.url, flow, "none")
    assert (code, out) == (0, final)
    async with Database(url, table=f"{prefix}_inbox", outbox_table=f"{prefix}_outbox") as db:
        rows = await Effects(db, f"{prefix}_effects").rows()
    assert Counter(key for key, _ in rows) == Counter(expected)
