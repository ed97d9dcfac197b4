"""What the source reader recognises, one handler per case."""

from __future__ import annotations

import interlink as il
from tests.unit.doctor.systems import Ping

TARGET = "s1.go"
TOPIC = "readings.taken"

reader = il.Service("reader")


@reader.rpc
async def named(req: Ping, context: il.Context) -> None:
    # `context`, a module-level target and topic, a call with its own timeout.
    await context.call(TARGET, req, timeout=1.0)
    await context.publish(TOPIC, req)


@reader.rpc
async def comprehended(req: Ping, ctx: il.Context) -> list[Ping]:
    return [await ctx.call("s1.go", Ping(n=n), returns=Ping) for n in range(req.n)]


async def _helper(ctx: il.Context) -> None:
    await ctx.call("hidden.go", Ping())


@reader.rpc
async def delegating(req: Ping, ctx: il.Context) -> None:
    await _helper(ctx)


@reader.route("GET", "/quote")
async def quote(ctx: il.Context) -> Ping:
    return await ctx.request("prices.ask", Ping(), returns=Ping)


@reader.subscribe(TOPIC, dedupe=il.Dedupe())
async def took(evt: Ping) -> None:
    return None


@reader.subscribe(f"{TOPIC}.dlq", dedupe=il.Dedupe())
async def dead(evt: Ping) -> None:
    return None


@reader.subscribe("prices.ask", durable=False)
async def price(req: Ping) -> Ping:
    return req


target = il.Service("s1")


@target.rpc(name="go")
async def go(req: Ping) -> Ping:
    return req


app = il.App([reader, target], default_policy=None)
