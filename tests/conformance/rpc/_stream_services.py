"""Streaming handlers of ``backend``, for the streaming half of the RPC contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from pydantic import BaseModel

import interlink as il
from tests.conformance.rpc._services import backend


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


def reset_streams() -> None:
    produced.clear()
    ended.clear()


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
