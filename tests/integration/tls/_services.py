"""The services the TLS tests call: ``inventory`` tells who called it, and guards some doors."""

from __future__ import annotations

import interlink as il

inventory = il.Service("inventory")
orders = il.Service("orders")
ran = {"guarded": 0}


@inventory.rpc
async def whoami(req: dict[str, int], ctx: il.Context) -> dict[str, str | None]:
    return {"peer": ctx.peer}


@inventory.rpc(allow=["orders"])
async def reserve(req: dict[str, int], ctx: il.Context) -> dict[str, int]:
    ran["guarded"] += 1
    return req


@inventory.route("GET", "/stock/{sku}", allow=["orders"])
async def stock(sku: str, ctx: il.Context) -> dict[str, str | None]:
    ran["guarded"] += 1
    return {"sku": sku, "peer": ctx.peer}


@orders.rpc
async def place(req: dict[str, int], ctx: il.Context) -> dict[str, int]:
    """Calls inventory from inside a handler: the identity is the process's certificate."""
    return await ctx.call("inventory.reserve", req)
