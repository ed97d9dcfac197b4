"""inventory: stock levels and reservations."""

from __future__ import annotations

import itertools

import interlink as il
from examples.shop.errors import OutOfStock, UnknownSku
from examples.shop.models import Release, Reserve, Reserved, Sku, StockLevel

inventory = il.Service("inventory", version="1.0.0")

PRICES = {"apple": 120, "pear": 95, "plum": 250}
_stock = {"apple": 1000, "pear": 500, "plum": 20}
_ids = itertools.count(1)
_held: dict[str, tuple[Reserve, Reserved]] = {}
"""Reservations by order id: a repeated reserve (a saga re-sending its step) holds nothing more."""


@inventory.rpc(timeout=2.0, errors=[UnknownSku, OutOfStock], idempotent=True)
async def reserve(req: Reserve, ctx: il.Context) -> Reserved:
    """Hold stock for an order (once per order id)."""
    if req.order_id in _held:
        return _held[req.order_id][1]
    if req.sku not in _stock:
        raise UnknownSku(f"unknown sku {req.sku!r}")
    if _stock[req.sku] < req.qty:
        raise OutOfStock(f"only {_stock[req.sku]} {req.sku} left")
    _stock[req.sku] -= req.qty
    reserved = Reserved(reservation_id=f"rsv-{next(_ids)}", unit_price_cents=PRICES[req.sku])
    _held[req.order_id] = (req, reserved)
    return reserved


@inventory.rpc(timeout=2.0, idempotent=True)
async def release(req: Release) -> None:
    """Give an order's reserved stock back; an order holding nothing is fine (nothing to undo)."""
    held = _held.pop(req.order_id, None)
    if held is not None:
        _stock[held[0].sku] += held[0].qty


@inventory.route("GET", "/inventory/{sku}", errors=[UnknownSku])
async def stock(sku: Sku) -> StockLevel:
    """How many units of a sku are available."""
    if sku not in _stock:
        raise UnknownSku(f"unknown sku {sku!r}")
    return StockLevel(sku=sku, available=_stock[sku])
