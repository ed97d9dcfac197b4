"""The crash window: a process SIGKILLed after its commit, or after the broker accepted a
publish but before the row was marked sent. After a restart every event is published, and the
broker holds exactly one copy per id."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from interlink.broker import MemoryBroker
from interlink.outbox import OutboxRelay
from interlink.testing import FakeClock
from tests.conftest import eventually
from tests.integration.outbox.conftest import CountingBroker, published_ids
from tests.integration.outbox.harness import Harness

ROOT = Path(__file__).resolve().parents[3]
TOPIC = "orders.placed"


async def run_child(mode: str, harness: Harness, broker: MemoryBroker) -> dict[str, Any]:
    """Run crash_child until it is killed; serve its publishes from ``broker``."""
    table = harness.orders.removesuffix("_orders")
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "tests.integration.outbox.crash_child"),
        *(mode, harness.name, harness.location, table),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    reports: dict[str, Any] = {}
    async with asyncio.timeout(20):
        async for line in process.stdout:
            reports.update(json.loads(line))
            if "publish" in reports and "acked" not in reports:
                sent = reports["publish"]
                body = base64.b64decode(sent["body"])
                await broker.publish(
                    sent["topic"], body, key=sent["key"], message_id=sent["message_id"]
                )
                reports["acked"] = True
                process.stdin.write(b"ack\n")
                await process.stdin.drain()
        returncode = await process.wait()
    assert returncode == -signal.SIGKILL, reports
    return reports


def drained(harness: Harness) -> Callable[[], Any]:
    async def check() -> bool:
        return await harness.outbox.pending() == 0

    return check


async def test_killed_after_commit_before_any_publish_then_published_once_after_restart(
    harness: Harness, broker: MemoryBroker
) -> None:
    reports = await run_child("commit-then-die", harness, broker)
    committed, uncommitted = reports["committed"], reports["uncommitted"]

    # The commit is atomic across the order and its event; the open transaction died with it.
    assert await harness.order_ids() == ["o1"]
    assert await harness.outbox.get(uncommitted) is None
    assert await harness.outbox.pending() == 1
    assert broker.messages(TOPIC) == []

    counting = CountingBroker(broker)
    async with OutboxRelay(harness.outbox, counting, interval=0.01):  # "after restart"
        await eventually(drained(harness))
    clock = FakeClock()  # a second restart: one full round, then the relay rests
    async with OutboxRelay(harness.outbox, counting, interval=1.0, clock=clock):
        await eventually(lambda: clock.sleepers == 1)

    assert published_ids(broker, TOPIC) == [committed]
    assert counting.calls == {committed: 1}


async def test_killed_after_publish_before_mark_sent_then_republished_and_deduplicated(
    harness: Harness, broker: MemoryBroker
) -> None:
    reports = await run_child("publish-then-die", harness, broker)
    event_id = reports["committed"]
    assert reports["accepted"] == event_id

    # The crash window was hit: the broker has the event, the row does not say so.
    assert published_ids(broker, TOPIC) == [event_id]
    row = await harness.outbox.get(event_id)
    assert row is not None
    assert row.sent_at is None

    counting = CountingBroker(broker)
    async with OutboxRelay(harness.outbox, counting, interval=0.01):  # "after restart"
        await eventually(drained(harness))

    assert counting.calls == {event_id: 1}  # republished with the same message_id ...
    assert published_ids(broker, TOPIC) == [event_id]  # ... and dropped as a duplicate
    row = await harness.outbox.get(event_id)
    assert row is not None
    assert row.sent_at is not None
