"""The services the RPC contract calls: one behaviour per handler."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

import interlink as il


class Reserve(BaseModel):
    sku: str
    qty: int


class Reserved(BaseModel):
    reservation_id: str


class Seen(BaseModel):
    correlation_id: str
    trace_id: str | None
    deadline: float | None
    causation_id: str | None
    service: str


class Nap(BaseModel):
    seconds: float


class Blob(BaseModel):
    data: str


backend = il.Service("backend")
calls: dict[str, int] = {}
cancelled: list[str] = []
"""Handlers whose task was cancelled mid-run (the caller gave up)."""


def reset() -> None:
    calls.clear()
    cancelled.clear()


@backend.rpc
async def reserve(req: Reserve) -> Reserved:
    return Reserved(reservation_id=f"{req.sku}-{req.qty}")


@backend.rpc
async def explode(req: Reserve) -> Reserved:
    raise ZeroDivisionError("the answer was 1/0")


@backend.rpc
async def conflict(req: Reserve) -> Reserved:
    raise il.ApplicationError("sold out", status=409, type="OutOfStock")


@backend.rpc
async def seen(req: Reserve, ctx: il.Context) -> Seen:
    return Seen(
        correlation_id=ctx.correlation_id,
        trace_id=ctx.traceparent[3:35] if ctx.traceparent else None,
        deadline=ctx.deadline,
        causation_id=ctx.headers.get("causationid"),
        service=ctx.service,
    )


@backend.rpc
async def slow(req: Nap) -> Reserved:
    calls["slow"] = calls.get("slow", 0) + 1
    try:
        await asyncio.sleep(req.seconds)
    except asyncio.CancelledError:
        cancelled.append("slow")
        raise
    return Reserved(reservation_id="late")


@backend.rpc(timeout=0.05)
async def hurried(req: Nap) -> Reserved:
    await asyncio.sleep(req.seconds)
    return Reserved(reservation_id="never")


@backend.rpc
async def nothing(req: Reserve) -> None:
    return None


@backend.rpc
async def echo(req: Blob) -> Blob:
    return req


@backend.rpc
async def unsafe_boom(req: Reserve) -> Reserved:
    calls["unsafe_boom"] = calls.get("unsafe_boom", 0) + 1
    raise RuntimeError("half done")


@backend.rpc(idempotent=True)
async def safe_boom(req: Reserve) -> Reserved:
    calls["safe_boom"] = calls.get("safe_boom", 0) + 1
    raise RuntimeError("nothing done")


frontend = il.Service("frontend")


@frontend.rpc
async def relay(req: Reserve, ctx: il.Context) -> Seen:
    return await ctx.call(seen, req)


@frontend.rpc
async def relay_conflict(req: Reserve, ctx: il.Context) -> Reserved:
    return await ctx.call(conflict, req)


@frontend.rpc
async def relay_explode(req: Reserve, ctx: il.Context) -> Reserved:
    return await ctx.call(explode, req)
