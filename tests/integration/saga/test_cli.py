"""``interlink sagas list | show | retry | abort`` against a real store (in a child process)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from interlink.messaging.inbox import Database
from interlink.saga import Saga, SagaEngine, SagaStatus, StepRetry
from tests.integration.saga.conftest import drive
from tests.integration.saga.journal import Declined, Journal, Order
from tests.integration.saga.test_resume import until

ROOT = Path(__file__).resolve().parents[3]
RETRY = StepRetry(initial=1.0, max_attempts=2, timeout=5.0, non_retryable=(Declined,))


def interlink(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interlink", "sagas", *args],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "300"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_list_show_retry_and_abort(db: Database, url: str, prefix: str, clock) -> None:
    journal = Journal(clock)
    table = f"{prefix}_sagas"
    failing = Saga("refund", data=Order, store=db, retry=RETRY, table=table)
    failing.step(name="reserve", compensate=journal.failing(Declined("locked"), times=1))(
        journal.ok()
    )
    failing.step(name="charge")(journal.failing(Declined("card declined")))
    running = Saga("checkout", data=Order, store=db, retry=RETRY, table=table)
    running.step(name="reserve", compensate=journal.ok())(journal.ok())

    async def stuck(data: Order, ctx) -> None:
        journal.record(ctx)
        await asyncio.Event().wait()

    running.step(name="charge", compensate=journal.ok())(stuck)
    async with SagaEngine([failing, running], clock=clock, poll=None) as engine:
        failed = await engine.start(failing, Order())
        assert await drive(clock, engine.wait(failed)) is SagaStatus.FAILED
        live = await engine.start(running, Order())
        await until(lambda: "charge" in journal.calls()[-1:])
        cli = ("--db", url, "--table", table)

        listed = await asyncio.to_thread(interlink, "list", "--status", "failed", *cli)
        assert listed.returncode == 0, listed.stderr
        assert failed in listed.stdout
        assert live not in listed.stdout

        shown = await asyncio.to_thread(interlink, "show", failed, *cli)
        assert shown.returncode == 0, shown.stderr
        assert "compensation of step 'reserve' failed: Declined: locked" in shown.stdout
        assert "card declined" in shown.stdout

        retried = await asyncio.to_thread(interlink, "retry", failed, *cli)
        assert retried.returncode == 0, retried.stderr
        assert await engine.resume(failed)
        assert await drive(clock, engine.wait(failed)) is SagaStatus.COMPENSATED

        aborted = await asyncio.to_thread(interlink, "abort", live, *cli)
        assert aborted.returncode == 0, aborted.stderr
        again = await asyncio.to_thread(interlink, "abort", live, *cli)
        assert again.returncode == 1
        assert "only a RUNNING saga" in again.stderr

        missing = await asyncio.to_thread(interlink, "show", "nope", *cli)
        assert missing.returncode == 1
        assert "no saga 'nope'" in missing.stderr
