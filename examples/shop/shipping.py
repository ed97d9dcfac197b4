"""shipping: creates a shipment per order (the step after the payment, retried until done)."""

from __future__ import annotations

import itertools

import interlink as il
from examples.shop.models import Ship, Shipment

shipping = il.Service("shipping", version="1.0.0")

_ids = itertools.count(1)
_shipments: dict[str, Shipment] = {}


@shipping.rpc(timeout=2.0, idempotent=True)
async def create_shipment(req: Ship) -> Shipment:
    """One shipment per order id, however often it is asked for."""
    if req.order_id not in _shipments:
        _shipments[req.order_id] = Shipment(shipment_id=f"shp-{next(_ids)}")
    return _shipments[req.order_id]
