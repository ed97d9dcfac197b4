"""The tracker of the order flow, stored in SQLite (``SHOP_EVENTS_DB``, default
``.interlink/shop-events.db``) with its outbox, from which ``stock.release`` is sent."""

from __future__ import annotations

import os
from pathlib import Path

import interlink as il

_path = Path(os.environ.get("SHOP_EVENTS_DB", ".interlink/shop-events.db"))
_path.parent.mkdir(parents=True, exist_ok=True)
db = il.Database(f"sqlite:///{_path}")

order_flow = il.Choreography(
    "order-flow",
    store=db,
    start="orders.placed",
    expect=["stock.reserved", "payment.charged", "shipment.created"],
    failed=["stock.rejected", "payment.declined"],
    compensate={"stock.reserved": "stock.release"},
    deadline=30,
)
