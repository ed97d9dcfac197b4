"""Streaming handlers of ``backend``, for the streaming half of the RPC contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pydantic import BaseModel

import interlink as il
from tests.conformance.rpc._services import Seen, backend


class Count(BaseModel):
    n: int
    fail_at: int = -1
    pause: float = 0.0
    """Seconds to wait before each item."""
    size: int = 0
    """Characters of padding in each item."""


class Tick(BaseModel):
    i: int
    pad: str = ""


produced: list[int] = []
"""Indices the ``count`` handler produced (yielded or was about to yield)."""
ended: list[str] = []
"""How each ``count`` run ended: "done", "closed" (GeneratorExit) or "cancelled"."""


runs: dict[str, int] = {}
"""How many times each flaky handler started."""


def reset_streams() -> None:
    produced.clear()
    ended.clear()
    runs.clear()


@backend.rpc
async def count(req: Count) -> AsyncIterator[Tick]:
    """Ticks 0..n-1; raises OutOfStock (409) at ``fail_at``."""
    try:
        for i in range(req.n):
            if req.pause:
                await asyncio.sleep(req.pause)
            if i == req.fail_at:
                raise il.ApplicationError("sold out", status=409, type="OutOfStock")
            produced.append(i)
            yield Tick(i=i, pad="x" * req.size)
    except GeneratorExit:
        ended.append("closed")
        raise
    except asyncio.CancelledError:
        ended.append("cancelled")
        raise
    ended.append("done")


@backend.rpc(timeout=0.3)
async def hurried_count(req: Count) -> AsyncIterator[Tick]:
    for i in range(req.n):
        await asyncio.sleep(req.pause)
        yield Tick(i=i)


@backend.rpc
async def bad_item(req: Count) -> AsyncIterator[Tick]:
    yield Tick(i=0)
    yield {"i": "not a number"}  # type: ignore[misc]


@backend.rpc
async def watch_context(req: Count, ctx: il.Context) -> AsyncIterator[Seen]:
    for _ in range(req.n):
        yield Seen(
            correlation_id=ctx.correlation_id,
            trace_id=ctx.traceparent[3:35] if ctx.traceparent else None,
            deadline=ctx.deadline,
            causation_id=ctx.headers.get("causationid"),
            service=ctx.service,
        )


@backend.rpc(idempotent=True)
async def safe_flaky(req: Count) -> AsyncIterator[Tick]:
    """Fails its first run before any item (or, with ``fail_at``, after that many items)."""
    runs["safe_flaky"] = runs.get("safe_flaky", 0) + 1
    for i in range(req.n):
        if runs["safe_flaky"] == 1 and i == max(req.fail_at, 0):
            raise RuntimeError("not this time")
        yield Tick(i=i)


@backend.rpc
async def unsafe_flaky(req: Count) -> AsyncIterator[Tick]:
    runs["unsafe_flaky"] = runs.get("unsafe_flaky", 0) + 1
    if runs["unsafe_flaky"] == 1:
        raise RuntimeError("half done")
    yield Tick(i=0)
