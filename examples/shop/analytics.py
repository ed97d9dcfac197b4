"""analytics: counts orders and revenue (a side effect of orders.placed)."""

from __future__ import annotations

from collections import Counter

import interlink as il
from examples.shop.models import OrderPlaced, Stats

analytics = il.Service("analytics", version="1.0.0")


class _Totals:
    def __init__(self) -> None:
        self.orders = 0
        self.revenue_cents = 0
        self.units: Counter[str] = Counter()


_totals = _Totals()


@analytics.subscribe("orders.placed")
async def on_order_placed(evt: OrderPlaced) -> None:
    _totals.orders += 1
    _totals.revenue_cents += evt.total_cents
    _totals.units[evt.sku] += evt.qty


@analytics.rpc(idempotent=True)
async def stats(req: dict[str, str]) -> Stats:
    """Totals since start."""
    return Stats(
        orders=_totals.orders, revenue_cents=_totals.revenue_cents, units_by_sku=dict(_totals.units)
    )
