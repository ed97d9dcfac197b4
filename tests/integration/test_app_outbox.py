"""``App(outboxes=[...])``: events committed with a database write reach consumers."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
from pydantic import BaseModel

import interlink as il
from interlink.outbox import SqliteOutbox
from interlink.testing import TestApp
from tests.conftest import eventually


class Order(BaseModel):
    order_id: str


async def test_the_app_relays_events_committed_through_its_outbox(tmp_path: Path) -> None:
    database = str(tmp_path / "shop.db")
    outbox = SqliteOutbox(database)
    orders = il.Service("orders")
    received: list[str] = []

    @orders.rpc
    async def place(req: Order, ctx: il.Context) -> None:
        async with aiosqlite.connect(database) as db:
            await db.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY)")
            await db.execute("BEGIN")
            await db.execute("INSERT INTO orders VALUES (?)", (req.order_id,))
            await outbox.publish(db, ctx, "orders.placed", req, key=req.order_id)
            if req.order_id == "bad":
                await db.rollback()
                return
            await db.commit()

    @orders.subscribe("orders.placed")
    async def on_placed(evt: Order) -> None:
        received.append(evt.order_id)

    async with TestApp(il.App([orders], outboxes=[outbox])) as t:
        await t.call(place, Order(order_id="o1"))
        await t.call(place, Order(order_id="bad"))
        await t.call(place, Order(order_id="o2"))
        await eventually(lambda: received == ["o1", "o2"])
        assert await outbox.pending() == 0
    await outbox.close()
