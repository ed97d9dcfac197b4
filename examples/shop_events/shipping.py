"""shipping: ships what was paid for."""

from __future__ import annotations

import itertools

import interlink as il
from examples.shop_events.models import PaymentCharged, ShipmentCreated

shipping = il.Service("shipping", version="1.0.0", publishes={"shipment.created": ShipmentCreated})

_ids = itertools.count(1)
_shipped: dict[str, str] = {}


@shipping.subscribe("payment.charged")
async def ship(charged: PaymentCharged, ctx: il.Context) -> None:
    shipment_id = _shipped.setdefault(charged.order_id, f"shp-{next(_ids)}")
    created = ShipmentCreated(order_id=charged.order_id, shipment_id=shipment_id)
    await ctx.publish("shipment.created", created, key=charged.order_id)
