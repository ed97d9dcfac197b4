"""An EventFeed reading from a running App that serves no HTTP starts, whatever the string
hash seed: telling an App from a Broker must not read the App's properties (``url`` raises on
such an App, and a structural Broker check reads them in hash order)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import asyncio
import interlink as il
from interlink.gateway import EventFeed

async def main():
    app = il.App([il.Service("feeder")], serve_http=False)
    async with app, EventFeed(broker=app, topics={"t": lambda identity, event: True}):
        print("started")

asyncio.run(main())
"""


async def start_under(seed: int) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        cwd=ROOT,
        env={"PYTHONHASHSEED": str(seed), "PATH": "/usr/bin:/bin", **_pythonpath()},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


def _pythonpath() -> dict[str, str]:
    return {"PYTHONPATH": str(ROOT / "src") + ":" + str(ROOT)}


async def test_an_app_that_serves_no_http_feeds_the_feed_under_every_hash_seed() -> None:
    results = await asyncio.gather(*(start_under(seed) for seed in range(8)))
    for code, out in results:
        assert (code, out.strip().splitlines()[-1:]) == (0, ["started"]), out
