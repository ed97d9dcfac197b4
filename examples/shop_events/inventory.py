"""inventory: reserves stock for placed orders, and releases it when the flow is compensated."""

from __future__ import annotations

import interlink as il
from examples.shop_events.models import OrderPlaced, StockRejected, StockReserved

inventory = il.Service(
    "inventory",
    version="1.0.0",
    publishes={"stock.reserved": StockReserved, "stock.rejected": StockRejected},
)

PRICES = {"apple": 120, "pear": 95, "plum": 250}
stock = {"apple": 1000, "pear": 500, "plum": 20}
_held: dict[str, OrderPlaced] = {}
"""Reservations by order id: a redelivered order holds nothing more."""


@inventory.subscribe("orders.placed")
async def reserve(order: OrderPlaced, ctx: il.Context) -> None:
    if order.order_id in _held:
        pass
    elif order.sku not in stock or stock[order.sku] < order.qty:
        reason = f"only {stock.get(order.sku, 0)} {order.sku} left"
        await ctx.publish("stock.rejected", StockRejected(order_id=order.order_id, reason=reason))
        return
    else:
        stock[order.sku] -= order.qty
        _held[order.order_id] = order
    amount = PRICES[order.sku] * order.qty
    reserved = StockReserved(order_id=order.order_id, customer=order.customer, amount_cents=amount)
    await ctx.publish("stock.reserved", reserved, key=order.order_id)


@inventory.subscribe("stock.release")
async def release(order: OrderPlaced) -> None:
    """The tracker's compensating event: give the order's stock back (nothing held is fine)."""
    held = _held.pop(order.order_id, None)
    if held is not None:
        stock[held.sku] += held.qty
