"""notification: tells customers about their orders (a side effect of orders.placed)."""

from __future__ import annotations

from collections import deque

import interlink as il
from examples.shop.errors import Unavailable
from examples.shop.models import Failing, Notification, OrderPlaced, Recent

notification = il.Service("notification", version="1.0.0")

_sent: deque[Notification] = deque(maxlen=1000)
_fault = Failing(failing=False)


@notification.subscribe("orders.placed")
async def on_order_placed(evt: OrderPlaced) -> None:
    if _fault.failing:
        raise Unavailable("notification is failing on purpose (set_failing)")
    _sent.append(
        Notification(
            customer=evt.customer, text=f"Order {evt.order_id} confirmed: {evt.qty} x {evt.sku}"
        )
    )


@notification.rpc(idempotent=True)
async def recent(req: Recent) -> list[Notification]:
    """The most recent notifications, newest last."""
    return list(_sent)[-req.limit :]


@notification.rpc(idempotent=True)
async def set_failing(req: Failing) -> Failing:
    """Demo fault switch: while on, every orders.placed event fails (and, its retries spent,
    goes to the dead letters). ``interlink call notification.set_failing '{"failing": true}'``."""
    _fault.failing = req.failing
    return _fault
