"""The consumer of the fault run: a billing service with an inbox, killed and restarted.

Each event is ``{"n": int, "key": str | None, "kind": "ok" | "transient" | "poison"}``. A
transient event fails its first run in every process; a poison event fails every run. The
effect of an event is a row in ``effects``, written in the inbox's transaction.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import interlink as il

TOPIC = "fault.orders"


async def main(broker: str, database: str, ready: str) -> None:
    db = il.Database(f"sqlite:///{database}")
    failed_once: set[int] = set()
    svc = il.Service("billing")

    @svc.subscribe(
        TOPIC,
        max_in_flight=32,
        inbox=db,
        retry=il.Retry(attempts=3, backoff=il.Backoff.constant(0.01), on=Exception),
    )
    async def on_order(evt: dict[str, Any], ctx: il.Context) -> None:
        n, kind = evt["n"], evt["kind"]
        if kind == "poison":
            raise ValueError(f"poison {n}")
        if kind == "transient" and n not in failed_once:
            failed_once.add(n)
            raise ConnectionError(f"transient {n}")
        async with ctx.transaction() as conn:
            await conn.execute("INSERT INTO effects (n, key) VALUES (?, ?)", (n, evt["key"] or ""))

    async with db:
        async with db.transaction() as tx:
            await tx.connection.execute(
                "CREATE TABLE IF NOT EXISTS effects "
                "(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL, key TEXT NOT NULL)"
            )
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with il.App([svc], broker=broker, serve_http=False):
            Path(ready).write_text("ready")
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
