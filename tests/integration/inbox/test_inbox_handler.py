"""``subscribe(..., inbox=db)`` and ``ctx.transaction()``: a handler's writes, the processed
message id and its events commit together, on SQLite and PostgreSQL."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import interlink as il
from interlink.messaging.inbox import Database
from tests.conftest import eventually
from tests.integration.faulty import FaultyBroker
from tests.integration.inbox.effects import Effects


def quick(attempts: int) -> il.Retry:
    return il.Retry(attempts=attempts, backoff=il.Backoff.constant(0.01), on=Exception)


def billing(
    db: Database, effects: Effects, runs: list[str] | None = None, **options: Any
) -> il.Service:
    svc = il.Service("billing")

    @svc.subscribe("orders.placed", inbox=db, **options)
    async def on_placed(evt: dict[str, Any], ctx: il.Context) -> None:
        if runs is not None:
            runs.append(str(evt["order"]))
        async with ctx.transaction() as conn:
            await effects.insert(SimpleNamespace(connection=conn), str(evt["order"]))
            await ctx.publish("invoices.created", {"order": evt["order"]})
        if evt.get("fail_after_commit"):
            raise RuntimeError("after the commit")

    return svc


def on(broker: FaultyBroker, *services: il.Service) -> il.App:
    return il.App(list(services), broker=broker, serve_http=False)


async def test_writes_and_events_commit_once_for_a_duplicated_message(
    db: Database, effects: Effects
) -> None:
    broker = FaultyBroker()
    async with on(broker, billing(db, effects)) as app:
        raw = app.context().event("orders.placed", {"order": "o1"}, key=None).to_bytes()
        await broker.publish("orders.placed", raw)
        await eventually(lambda: broker.outstanding == 0)
        await broker.publish("orders.placed", raw)  # the same envelope id, delivered again
        await eventually(lambda: broker.outstanding == 0)
        await eventually(lambda: len(broker.messages("invoices.created")) == 1)
        assert app.runtime.consumers[0].skipped_duplicates == 1
    assert await effects.message_ids() == ["o1"]
    assert len(broker.messages("invoices.created")) == 1


async def test_a_lost_ack_after_the_commit_has_no_second_effect(
    db: Database, effects: Effects
) -> None:
    broker = FaultyBroker()
    broker.fail_acks = 1  # the commit happened; the broker never heard the ack
    runs: list[str] = []
    async with on(broker, billing(db, effects, runs)) as app:
        await app.publish("orders.placed", {"order": "o2"})
        await eventually(lambda: broker.outstanding == 0)
        await eventually(lambda: len(broker.messages("invoices.created")) == 1)
    assert await effects.message_ids() == ["o2"]
    assert runs == ["o2"]  # the redelivery was found processed before the handler ran


async def test_a_failure_inside_the_transaction_rolls_everything_back(
    db: Database, effects: Effects
) -> None:
    broker = FaultyBroker()
    failures = 1
    svc = il.Service("billing")

    @svc.subscribe("orders.placed", inbox=db, retry=quick(3))
    async def on_placed(evt: dict[str, Any], ctx: il.Context) -> None:
        nonlocal failures
        async with ctx.transaction() as conn:
            await effects.insert(SimpleNamespace(connection=conn), str(evt["order"]))
            await ctx.publish("invoices.created", {"order": evt["order"]})
            if failures:
                failures -= 1
                raise ConnectionError("payment gateway blinked")

    async with on(broker, svc) as app:
        await app.publish("orders.placed", {"order": "o3"})
        await eventually(lambda: broker.outstanding == 0)
        await eventually(lambda: len(broker.messages("invoices.created")) == 1)
    assert await effects.message_ids() == ["o3"]


async def test_a_failure_after_the_commit_does_not_repeat_the_effect(
    db: Database, effects: Effects
) -> None:
    broker = FaultyBroker()
    async with on(broker, billing(db, effects, retry=quick(3))) as app:
        await app.publish("orders.placed", {"order": "o4", "fail_after_commit": True})
        await eventually(lambda: broker.outstanding == 0)
        await eventually(lambda: len(broker.messages("invoices.created")) == 1)
    # The retry found the message processed and acknowledged it without running again; the
    # event committed with the effect was published although the handler failed afterwards.
    assert await effects.message_ids() == ["o4"]
    assert broker.messages("orders.placed.dlq") == []
    assert len(broker.messages("invoices.created")) == 1


async def test_a_handler_without_a_transaction_is_still_recorded_with_its_events(
    db: Database,
) -> None:
    broker = FaultyBroker()
    runs: list[str] = []
    svc = il.Service("billing")

    @svc.subscribe("orders.placed", inbox=db)
    async def on_placed(evt: dict[str, Any], ctx: il.Context) -> None:
        runs.append(evt["order"])
        await ctx.publish("invoices.created", evt)

    async with on(broker, svc) as app:
        envelope = app.context().event("orders.placed", {"order": "o5"}, key=None)
        await broker.publish("orders.placed", envelope.to_bytes())
        await eventually(lambda: len(broker.messages("invoices.created")) == 1)
        await eventually(lambda: broker.outstanding == 0)
        assert await db.processed("billing:orders.placed", envelope.id)
        assert runs == ["o5"]


async def test_ctx_transaction_needs_an_inbox_and_opens_once(db: Database) -> None:
    problems: list[str] = []
    plain, boxed = il.Service("plain"), il.Service("boxed")

    @plain.subscribe("jobs")
    async def without(job: int, ctx: il.Context) -> None:
        with pytest.raises(RuntimeError, match="inbox=") as info:
            ctx.transaction()
        problems.append(str(info.value))

    @boxed.subscribe("jobs")
    async def twice(job: int, ctx: il.Context) -> None:
        pass

    @boxed.subscribe("jobs", group="twice", inbox=db)
    async def again(job: int, ctx: il.Context) -> None:
        async with ctx.transaction():
            pass
        with pytest.raises(RuntimeError, match="once per message") as info:
            async with ctx.transaction():
                pass
        problems.append(str(info.value))

    broker = FaultyBroker()
    async with on(broker, plain, boxed) as app:
        await app.publish("jobs", 1)
        await eventually(lambda: len(problems) == 2 and broker.outstanding == 0)
