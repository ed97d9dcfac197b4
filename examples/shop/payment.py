"""payment: charges customers."""

from __future__ import annotations

import itertools

import interlink as il
from examples.shop.errors import PaymentDeclined, Unavailable
from examples.shop.models import Charge, Charged, Failing

payment = il.Service("payment", version="1.0.0")

LIMIT_CENTS = 100_000
_ids = itertools.count(1)
_charged: dict[str, Charged] = {}
"""Charges by order id: a repeated charge (a saga re-sending its step) charges once."""
_fault = Failing(failing=False)


@payment.rpc(timeout=2.0, errors=[PaymentDeclined, Unavailable], idempotent=True)
async def charge(req: Charge) -> Charged:
    """Charge a customer once per order; amounts over the limit are declined."""
    if _fault.failing:
        raise Unavailable("payment is failing on purpose (set_failing)")
    if req.order_id in _charged:
        return _charged[req.order_id]
    if req.amount_cents > LIMIT_CENTS:
        raise PaymentDeclined(f"{req.amount_cents} cents is over the card limit")
    charged = _charged[req.order_id] = Charged(payment_id=f"pay-{next(_ids)}")
    return charged


@payment.rpc(idempotent=True)
async def set_failing(req: Failing) -> Failing:
    """Demo fault switch: while on, every charge fails with 503 (and the callers' circuit
    breaker on payment opens). ``interlink call payment.set_failing '{"failing": true}'``."""
    _fault.failing = req.failing
    return _fault
