"""Fan-out and hub fixtures: ``front{n}.all`` calls b1.get ... b{n}.get, each written out."""

from __future__ import annotations

import interlink as il
from tests.unit.doctor.systems import Ping

backs = [il.Service(f"b{i}") for i in range(1, 7)]
for _svc in backs:

    @_svc.rpc(name="get")
    async def get(req: Ping) -> Ping:
        return req


front6 = il.Service("front6")


@front6.rpc(name="all")
async def all6(req: Ping, ctx: il.Context) -> None:
    await ctx.call("b1.get", req)
    await ctx.call("b2.get", req)
    await ctx.call("b3.get", req)
    await ctx.call("b4.get", req)
    await ctx.call("b5.get", req)
    await ctx.call("b6.get", req)


front5 = il.Service("front5")


@front5.rpc(name="all")
async def all5(req: Ping, ctx: il.Context) -> None:
    await ctx.call("b1.get", req)
    await ctx.call("b2.get", req)
    await ctx.call("b3.get", req)
    await ctx.call("b4.get", req)
    await ctx.call("b5.get", req)


front4 = il.Service("front4")


@front4.rpc(name="all")
async def all4(req: Ping, ctx: il.Context) -> None:
    await ctx.call("b1.get", req)
    await ctx.call("b2.get", req)
    await ctx.call("b3.get", req)
    await ctx.call("b4.get", req)


def fan(n: int) -> il.App:
    front = {6: front6, 5: front5, 4: front4}[n]
    return il.App([front, *backs])
