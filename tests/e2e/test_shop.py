"""The reference shop through the in-memory test kit."""

from __future__ import annotations

import importlib

import pytest
from examples.shop import app
from examples.shop.inventory import reserve
from examples.shop.models import OrderAccepted, PlaceOrder, Recent, Reserve, Stats
from examples.shop.orders import place

import interlink as il
from interlink.testing import TestApp


async def test_placing_an_order_reserves_charges_and_notifies() -> None:
    async with TestApp(app) as t:
        before = await t.call("analytics.stats", {}, returns=Stats)
        accepted = await t.call(place, PlaceOrder(customer="ada", sku="pear", qty=3))
        assert isinstance(accepted, OrderAccepted)
        assert accepted.total_cents == 3 * 95
        await t.drain()
        stats = await t.call("analytics.stats", {}, returns=Stats)
        assert stats.orders == before.orders + 1
        assert stats.revenue_cents == before.revenue_cents + 285
        notes = await t.call("notification.recent", Recent(limit=100))
        assert any(accepted.order_id in n["text"] for n in notes)
        (event,) = [e for e in t.envelopes("orders.placed") if e.partitionkey == accepted.order_id]
        assert event.source == "/orders"


async def test_out_of_stock_and_declined_payment_fail_the_order_without_an_event() -> None:
    async with TestApp(app) as t:
        with pytest.raises(il.RemoteError) as out_of_stock:
            await t.call(place, PlaceOrder(customer="ada", sku="plum", qty=1000))
        assert (out_of_stock.value.status, out_of_stock.value.remote_type) == (409, "OutOfStock")
        with pytest.raises(il.RemoteError) as declined:
            await t.call(place, PlaceOrder(customer="ada", sku="apple", qty=1000))
        assert declined.value.remote_type == "PaymentDeclined"
        assert t.published("orders.placed") == []


async def test_invalid_orders_are_rejected_before_any_call() -> None:
    async with TestApp(app) as t:
        with pytest.raises(il.InvalidRequest) as info:
            await t.call("orders.place", {"customer": "", "sku": "apple", "qty": -1})
        assert {tuple(e["loc"]) for e in info.value.errors} == {("customer",), ("qty",)}
        with pytest.raises(il.RemoteError, match="unknown sku"):
            await t.call(reserve, Reserve(order_id="x", sku="durian", qty=1))


async def test_a_malformed_event_is_dead_lettered_not_lost() -> None:
    async with TestApp(app) as t:
        await t.publish("orders.placed", {"order_id": "x"})
        await t.drain()
        dead = t.dead_letters("orders.placed")
        assert {d.headers["x-interlink-group"] for d in dead} == {"notification", "analytics"}


async def test_a_declined_payment_releases_the_reserved_stock() -> None:
    async with TestApp(app) as t:
        stock = importlib.import_module("examples.shop.inventory")._stock
        before = stock["apple"]
        with pytest.raises(il.RemoteError) as declined:
            await t.call(place, PlaceOrder(customer="ada", sku="apple", qty=900))
        assert declined.value.remote_type == "PaymentDeclined"
        assert stock["apple"] == before  # the checkout saga released what it had reserved
