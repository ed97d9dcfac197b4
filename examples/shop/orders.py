"""orders: the critical path. A checkout saga reserves stock, charges and ships; then everyone is
told (asynchronously). A declined payment gives the stock back."""

from __future__ import annotations

import uuid
from collections import OrderedDict

import interlink as il
from examples.shop.checkout import checkout
from examples.shop.errors import OrderNotFound, OutOfStock, PaymentDeclined, UnknownSku
from examples.shop.models import Checkout, OrderAccepted, OrderId, OrderPlaced, PlaceOrder

orders = il.Service("orders", version="1.0.0", publishes={"orders.placed": OrderPlaced})

_DECLARED: dict[str, type[il.ApplicationError]] = {
    "UnknownSku": UnknownSku,
    "OutOfStock": OutOfStock,
    "PaymentDeclined": PaymentDeclined,
}
_recent: OrderedDict[str, OrderAccepted] = OrderedDict()
_KEEP = 10_000


# The errors of the calls it makes pass through to its own caller: it declares them too.
@orders.rpc(errors=[UnknownSku, OutOfStock, PaymentDeclined])
async def place(req: PlaceOrder, ctx: il.Context) -> OrderAccepted:
    """Place an order: run the checkout saga to its end, then announce the order as an event."""
    order_id = f"ord-{uuid.uuid4().hex[:12]}"
    data = Checkout(order_id=order_id, customer=req.customer, sku=req.sku, qty=req.qty)
    saga_id = await ctx.sagas.start(checkout, data, key=order_id)
    status = await ctx.sagas.wait(saga_id)
    done = await ctx.sagas.data(checkout, saga_id)
    if status != "COMPLETED" or done.payment_id is None or done.reservation_id is None:
        error = _DECLARED.get(done.failure or "")
        if error is not None:
            raise error(done.message)
        raise il.ApplicationError(f"checkout {saga_id} ended {status}", status=503)
    total = done.unit_price_cents * req.qty
    await ctx.publish(
        "orders.placed",
        OrderPlaced(
            order_id=order_id, customer=req.customer, sku=req.sku, qty=req.qty, total_cents=total
        ),
        key=order_id,
    )
    accepted = OrderAccepted(
        order_id=order_id,
        reservation_id=done.reservation_id,
        payment_id=done.payment_id,
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
