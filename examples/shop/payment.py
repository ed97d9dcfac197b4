"""payment: charges customers."""

from __future__ import annotations

import itertools

import interlink as il
from examples.shop.errors import PaymentDeclined
from examples.shop.models import Charge, Charged

payment = il.Service("payment", version="1.0.0")

LIMIT_CENTS = 100_000
_ids = itertools.count(1)
_charged: dict[str, Charged] = {}
"""Charges by order id: a repeated charge (a saga re-sending its step) charges once."""


@payment.rpc(timeout=2.0, errors=[PaymentDeclined], idempotent=True)
async def charge(req: Charge) -> Charged:
    """Charge a customer once per order; amounts over the limit are declined."""
    if req.order_id in _charged:
        return _charged[req.order_id]
    if req.amount_cents > LIMIT_CENTS:
        raise PaymentDeclined(f"{req.amount_cents} cents is over the card limit")
    charged = _charged[req.order_id] = Charged(payment_id=f"pay-{next(_ids)}")
    return charged
