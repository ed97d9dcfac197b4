"""The choreographed shop: the App feeds its tracker, and a failure compensates through events."""

from __future__ import annotations

from examples.shop_events import app
from examples.shop_events.inventory import stock
from examples.shop_events.models import OrderRef, OrderStatus, PlaceOrder

from interlink.testing import TestApp
from tests.conftest import eventually


async def _ends(t: TestApp, order: OrderRef) -> str:
    async def ended() -> bool:
        status = await t.call("orders.status", order, returns=OrderStatus)
        return status.status != "RUNNING"

    await eventually(ended, timeout=10)
    return (await t.call("orders.status", order, returns=OrderStatus)).status


async def test_an_order_flows_through_every_service_and_completes() -> None:
    async with TestApp(app) as t:
        before = stock["pear"]
        order = await t.call(
            "orders.place", PlaceOrder(customer="ada", sku="pear", qty=3), returns=OrderRef
        )
        assert await _ends(t, order) == "COMPLETED"
        assert stock["pear"] == before - 3
        shipped = [e for e in t.published("shipment.created") if e["order_id"] == order.order_id]
        assert len(shipped) == 1
        assert t.published("stock.release") == []


async def test_a_declined_payment_releases_the_stock_through_the_tracker() -> None:
    async with TestApp(app) as t:
        before = stock["apple"]
        order = await t.call(
            "orders.place", PlaceOrder(customer="ada", sku="apple", qty=900), returns=OrderRef
        )
        assert await _ends(t, order) == "COMPENSATED"
        await eventually(lambda: stock["apple"] == before, timeout=20)
        released = [e for e in t.published("stock.release") if e["order_id"] == order.order_id]
        assert len(released) == 1
        assert not any(e["order_id"] == order.order_id for e in t.published("shipment.created"))


async def test_rejected_stock_ends_the_flow_with_nothing_to_release() -> None:
    async with TestApp(app) as t:
        order = await t.call(
            "orders.place", PlaceOrder(customer="ada", sku="plum", qty=999), returns=OrderRef
        )
        assert await _ends(t, order) == "COMPENSATED"
        await t.drain()
        assert not any(e["order_id"] == order.order_id for e in t.published("stock.release"))
