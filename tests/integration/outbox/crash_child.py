"""A process that dies (SIGKILL) inside the outbox's crash windows; test_outbox_crash drives it.

    python -m tests.integration.outbox.crash_child MODE BACKEND LOCATION TABLE

``commit-then-die``: commit an order and its event, open a second transaction with another
order and event, and die before any relay runs (and before the second commit).
``publish-then-die``: commit an event, run a relay whose broker forwards the publish to the
parent over stdout, wait for the parent's "ack" (the broker accepted it), and die before the
relay can mark the row sent.

Every step is reported as one JSON line on stdout.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

import interlink as il
from interlink.broker import MemoryBroker
from interlink.outbox import OutboxRelay
from tests.integration.outbox.harness import Harness, open_harness


def report(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class ParentBroker:
    """Publishes by asking the parent process, which owns the real (memory) broker."""

    url = "parent://"

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        body64 = base64.b64encode(body).decode()
        report(publish={"topic": topic, "key": key, "body": body64, "message_id": message_id})
        answer = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if answer.strip() == "ack":
            report(accepted=message_id)
            die()  # the broker has the message; the relay has not marked the row sent


async def write(harness: Harness, ctx: il.Context, order_id: str) -> str:
    async with harness.transaction() as conn:
        await harness.insert_order(conn, order_id)
        event = await harness.outbox.publish(conn, ctx, "orders.placed", {"order": order_id})
    return event.id


async def commit_then_die(harness: Harness, ctx: il.Context) -> None:
    report(committed=await write(harness, ctx, "o1"))
    async with harness.transaction() as conn:
        await harness.insert_order(conn, "o2")
        event = await harness.outbox.publish(conn, ctx, "orders.placed", {"order": "o2"})
        report(uncommitted=event.id)
        die()


async def publish_then_die(harness: Harness, ctx: il.Context) -> None:
    report(committed=await write(harness, ctx, "o1"))
    async with OutboxRelay(harness.outbox, ParentBroker(), interval=0.01):
        await asyncio.Event().wait()  # the broker kills the process


async def main(mode: str, backend: str, location: str, table: str) -> None:
    harness = open_harness(backend, location, table)
    await harness.open()
    app = il.App([], broker=MemoryBroker(), serve_http=False)
    async with app:
        scenario = commit_then_die if mode == "commit-then-die" else publish_then_die
        await scenario(harness, app.context("orders"))
    report(error="the scenario returned instead of dying")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
