"""A small running world for the dashboard: instances on real sockets serving recorded spans
and breaker metrics, a real NATS JetStream broker holding a real dead letter (its handler
fails until told otherwise), and a SQLite saga store with one finished saga."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

import interlink as il
from interlink.dashboard import Dashboard, SagaSource
from interlink.embedded import EmbeddedNats
from interlink.messaging import list_dead_letters
from tests.conftest import eventually
from tests.integration.dashboard._fake import FakeInstance
from tests.unit.dashboard._fixture import CONSUMERS, ORDERS, PAYMENT, shifted
from tests.unit.dashboard.test_metrics import BROKER, breaker_text

TOPIC = "orders.placed"


class Order(BaseModel):
    order_id: str
    handled: bool = False


@dataclass
class World:
    dashboard: Dashboard
    orders: FakeInstance
    broker: il.App
    saga_id: str
    fail: list[bool] = field(default_factory=lambda: [True])
    handled: list[str] = field(default_factory=list)

    def open_breaker(self) -> None:
        self.orders.metrics_text = breaker_text("open") + BROKER

    async def dead_letters(self) -> int:
        return len(await list_dead_letters(self.broker.runtime.broker, TOPIC))


async def _finished_saga(db_path: Path) -> str:
    async with il.Database(f"sqlite:///{db_path}") as db:
        saga = il.Saga("checkout", data=Order, store=db)

        @saga.step(compensate=lambda data, ctx: None)
        async def reserve(data: Order, ctx: il.StepContext) -> None:
            return None

        @saga.step
        async def charge(data: Order, ctx: il.StepContext) -> None:
            data.handled = True

        async with il.App([il.Service("shop")], serve_http=False, sagas=[saga]) as app:
            saga_id = await app.sagas.start(saga, Order(order_id="o-1"), key="o-1")
            assert await app.sagas.wait(saga_id) == "COMPLETED"
    return saga_id


@contextlib.asynccontextmanager
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = tmp_path / "sagas.db"
    saga_id = await _finished_saga(db)
    async with contextlib.AsyncExitStack() as stack:
        nats = await stack.enter_async_context(EmbeddedNats(str(tmp_path / "nats")))
        orders = await stack.enter_async_context(FakeInstance("orders"))
        payment = await stack.enter_async_context(FakeInstance("payment"))
        consumers = await stack.enter_async_context(FakeInstance("notification"))
        now = time.time()
        orders.add(*shifted(ORDERS, now))
        payment.add(*shifted(PAYMENT, now))
        consumers.add(*shifted(CONSUMERS, now))
        orders.metrics_text = breaker_text("closed") + BROKER

        svc = il.Service("notification")
        state = World(None, orders, None, saga_id)  # type: ignore[arg-type]

        @svc.subscribe(TOPIC, retry=il.Retry(attempts=1, on=Exception))
        async def on_placed(evt: Order) -> None:
            if state.fail[0]:
                raise RuntimeError("notification is down")
            state.handled.append(evt.order_id)

        app = il.App([svc], broker=nats, serve_http=False)
        state.broker = await stack.enter_async_context(app)
        await app.context().publish(TOPIC, Order(order_id="o-1"), key="o-1")
        await eventually(lambda: _count(state), timeout=20)

        registry = ",".join(f"{f.service}=127.0.0.1:{f.port}" for f in (orders, payment, consumers))
        state.dashboard = await stack.enter_async_context(
            Dashboard(
                registry=f"static:{registry}",
                broker=nats,
                sagas=[SagaSource(f"sqlite:///{db}")],
                interval=0.2,
            )
        )
        yield state


async def _count(state: World) -> bool:
    return await state.dead_letters() == 1
