"""notification: tells customers about their orders (a side effect of orders.placed)."""

from __future__ import annotations

from collections import deque

import interlink as il
from examples.shop.models import Notification, OrderPlaced, Recent

notification = il.Service("notification", version="1.0.0")

_sent: deque[Notification] = deque(maxlen=1000)


@notification.subscribe("orders.placed")
async def on_order_placed(evt: OrderPlaced) -> None:
    _sent.append(
        Notification(
            customer=evt.customer, text=f"Order {evt.order_id} confirmed: {evt.qty} x {evt.sku}"
        )
    )


@notification.rpc(idempotent=True)
async def recent(req: Recent) -> list[Notification]:
    """The most recent notifications, newest last."""
    return list(_sent)[-req.limit :]
