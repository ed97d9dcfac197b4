"""The checkout saga: reserve stock → charge payment (the pivot) → create the shipment.

A declined payment (or any permanent failure before the charge) releases the reserved stock; once
the payment is taken, the shipment is retried until it exists. The saga's state lives in SQLite
(``SHOP_DB``, default ``.interlink/shop.db``), so a crash resumes it where it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import interlink as il
from examples.shop.inventory import release, reserve
from examples.shop.models import Charge, Charged, Checkout, Release, Reserve, Ship, Shipment
from examples.shop.payment import charge
from examples.shop.shipping import create_shipment

_path = Path(os.environ.get("SHOP_DB", ".interlink/shop.db"))
_path.parent.mkdir(parents=True, exist_ok=True)
db = il.Database(f"sqlite:///{_path}")

DECLARED = ("UnknownSku", "OutOfStock", "PaymentDeclined")
"""The participants' declared answers: permanent, so not retried."""
retry = il.StepRetry(
    initial=0.2,
    max_interval=5.0,
    max_attempts=4,
    timeout=5.0,
    non_retryable=(il.ApplicationError, *DECLARED),
)

checkout = il.Saga("checkout", data=Checkout, store=db, retry=retry)


async def release_stock(data: Checkout, ctx: il.StepContext) -> None:
    await ctx.call(release, Release(order_id=data.order_id))


@checkout.step(compensate=release_stock)
async def reserve_stock(data: Checkout, ctx: il.StepContext) -> None:
    with _noting(data):
        reserved = await ctx.call(
            reserve, Reserve(order_id=data.order_id, sku=data.sku, qty=data.qty)
        )
    data.reservation_id = reserved.reservation_id
    data.unit_price_cents = reserved.unit_price_cents


@checkout.step(pivot=True)
async def charge_payment(data: Checkout, ctx: il.StepContext) -> None:
    amount = data.unit_price_cents * data.qty
    with _noting(data):
        charged: Charged = await ctx.call(
            charge, Charge(order_id=data.order_id, customer=data.customer, amount_cents=amount)
        )
    data.payment_id = charged.payment_id


@checkout.step(retriable=True)
async def ship(data: Checkout, ctx: il.StepContext) -> None:
    shipment: Shipment = await ctx.call(
        create_shipment,
        Ship(order_id=data.order_id, customer=data.customer, sku=data.sku, qty=data.qty),
    )
    data.shipment_id = shipment.shipment_id


class _noting:
    """Keep a declared error's type and message in the saga's data, for the order's answer."""

    def __init__(self, data: Checkout) -> None:
        self.data = data

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        remote = getattr(error, "remote_type", None)
        if remote in DECLARED:
            self.data.failure, self.data.message = remote, str(error)
