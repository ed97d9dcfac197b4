"""orders: accepts an order and announces it; the rest of the flow happens elsewhere."""

from __future__ import annotations

import uuid
from collections import OrderedDict

import interlink as il
from examples.shop_events.flow import order_flow
from examples.shop_events.models import OrderPlaced, OrderRef, OrderStatus, PlaceOrder

orders = il.Service("orders", version="1.0.0", publishes={"orders.placed": OrderPlaced})


class OrderNotFound(il.ApplicationError):
    status = 404


_flows: OrderedDict[str, str] = OrderedDict()
"""Order id → the correlation id its events carry (the tracker's key); the last 10,000."""


@orders.rpc
async def place(req: PlaceOrder, ctx: il.Context) -> OrderRef:
    """Accept an order: announce it, and answer at once (the flow runs on without us)."""
    order_id = f"ord-{uuid.uuid4().hex[:12]}"
    placed = OrderPlaced(order_id=order_id, customer=req.customer, sku=req.sku, qty=req.qty)
    await ctx.publish("orders.placed", placed, key=order_id)
    _flows[order_id] = ctx.correlation_id
    while len(_flows) > 10_000:
        _flows.popitem(last=False)
    return OrderRef(order_id=order_id)


@orders.rpc(errors=[OrderNotFound])
async def status(req: OrderRef) -> OrderStatus:
    """Where the order's flow is: RUNNING, COMPLETED or COMPENSATED."""
    correlation = _flows.get(req.order_id)
    if correlation is None:
        raise OrderNotFound(f"no order {req.order_id!r}")
    # Not tracked yet: the tracker has not taken orders.placed from the broker so far.
    found = await order_flow.status(correlation) or "RUNNING"
    return OrderStatus(order_id=req.order_id, status=found)
