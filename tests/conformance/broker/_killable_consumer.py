"""A consumer process for the crash tests: it marks when it starts a message, then hangs."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import interlink as il


async def main(broker: str, directory: str, topic: str, marker: str) -> None:
    svc = il.Service("crashers")
    started = Path(marker)

    @svc.subscribe(topic)
    async def hang(job: dict[str, int], ctx: il.Context) -> None:
        started.write_text(f"started {ctx.message_id}")
        await asyncio.Event().wait()  # killed with SIGKILL while here

    async with il.App([svc], broker=broker, serve_http=False, directory=directory):
        started.write_text("ready")
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
