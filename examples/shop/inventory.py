"""inventory: stock levels and reservations."""

from __future__ import annotations

import itertools

import interlink as il
from examples.shop.errors import OutOfStock, UnknownSku
from examples.shop.models import Reserve, Reserved, Sku, StockLevel

inventory = il.Service("inventory", version="1.0.0")

PRICES = {"apple": 120, "pear": 95, "plum": 250}
_stock = {"apple": 1000, "pear": 500, "plum": 20}
_ids = itertools.count(1)


@inventory.rpc(timeout=2.0, errors=[UnknownSku, OutOfStock])
async def reserve(req: Reserve, ctx: il.Context) -> Reserved:
    """Hold stock for an order."""
    if req.sku not in _stock:
        raise UnknownSku(f"unknown sku {req.sku!r}")
    if _stock[req.sku] < req.qty:
        raise OutOfStock(f"only {_stock[req.sku]} {req.sku} left")
    _stock[req.sku] -= req.qty
    return Reserved(reservation_id=f"rsv-{next(_ids)}", unit_price_cents=PRICES[req.sku])


@inventory.route("GET", "/inventory/{sku}", errors=[UnknownSku])
async def stock(sku: Sku) -> StockLevel:
    """How many units of a sku are available."""
    if sku not in _stock:
        raise UnknownSku(f"unknown sku {sku!r}")
    return StockLevel(sku=sku, available=_stock[sku])
