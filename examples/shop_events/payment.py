"""payment: charges for reserved stock; amounts over the card limit are declined."""

from __future__ import annotations

import itertools

import interlink as il
from examples.shop_events.models import PaymentCharged, PaymentDeclined, StockReserved

payment = il.Service(
    "payment",
    version="1.0.0",
    publishes={"payment.charged": PaymentCharged, "payment.declined": PaymentDeclined},
)

LIMIT_CENTS = 100_000
_ids = itertools.count(1)
_charged: dict[str, str] = {}
"""Payment ids by order id: a redelivered reservation charges once."""


@payment.subscribe("stock.reserved")
async def charge(reserved: StockReserved, ctx: il.Context) -> None:
    if reserved.amount_cents > LIMIT_CENTS:
        reason = f"{reserved.amount_cents} cents is over the card limit"
        await ctx.publish(
            "payment.declined", PaymentDeclined(order_id=reserved.order_id, reason=reason)
        )
        return
    payment_id = _charged.setdefault(reserved.order_id, f"pay-{next(_ids)}")
    charged = PaymentCharged(order_id=reserved.order_id, payment_id=payment_id)
    await ctx.publish("payment.charged", charged, key=reserved.order_id)
