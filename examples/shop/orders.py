"""orders: the critical path. Reserve stock, charge, then tell everyone (asynchronously)."""

from __future__ import annotations

import itertools
from collections import OrderedDict

import interlink as il
from examples.shop.errors import OrderNotFound, OutOfStock, PaymentDeclined, UnknownSku
from examples.shop.inventory import reserve
from examples.shop.models import (
    Charge,
    Charged,
    OrderAccepted,
    OrderId,
    OrderPlaced,
    PlaceOrder,
    Reserve,
)

orders = il.Service("orders", version="1.0.0", publishes={"orders.placed": OrderPlaced})

_ids = itertools.count(1)
_recent: OrderedDict[str, OrderAccepted] = OrderedDict()
_KEEP = 10_000


# The errors of the calls it makes pass through to its own caller: it declares them too.
@orders.rpc(errors=[UnknownSku, OutOfStock, PaymentDeclined])
async def place(req: PlaceOrder, ctx: il.Context) -> OrderAccepted:
    """Place an order: reserve stock and charge synchronously, announce it as an event."""
    order_id = f"ord-{next(_ids)}"
    reserved = await ctx.call(reserve, Reserve(order_id=order_id, sku=req.sku, qty=req.qty))
    total = reserved.unit_price_cents * req.qty
    charged = await ctx.call(
        "payment.charge",
        Charge(order_id=order_id, customer=req.customer, amount_cents=total),
        returns=Charged,
    )
    await ctx.publish(
        "orders.placed",
        OrderPlaced(
            order_id=order_id, customer=req.customer, sku=req.sku, qty=req.qty, total_cents=total
        ),
        key=order_id,
    )
    accepted = OrderAccepted(
        order_id=order_id,
        reservation_id=reserved.reservation_id,
        payment_id=charged.payment_id,
        total_cents=total,
    )
    _recent[order_id] = accepted
    while len(_recent) > _KEEP:
        _recent.popitem(last=False)
    return accepted


@orders.route("GET", "/orders/{order_id}", errors=[OrderNotFound])
async def get_order(order_id: OrderId) -> OrderAccepted:
    """Look up a recent order."""
    if order_id not in _recent:
        raise OrderNotFound(f"no order {order_id!r}")
    return _recent[order_id]
