"""The consumer runtime: ack after success, redelivery, dead letters, publish after success."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import msgspec
from pydantic import BaseModel

import interlink as il
from interlink.testing import TestApp
from tests.conftest import eventually


class Placed(BaseModel):
    order_id: str
    qty: int


def quick(attempts: int) -> il.Retry:
    return il.Retry(attempts=attempts, backoff=il.Backoff.constant(0.01), on=Exception)


def make_app(svc: il.Service) -> il.App:
    return il.App([svc])


async def test_event_is_handled_and_acknowledged() -> None:
    svc = il.Service("billing")
    seen: list[Placed] = []

    @svc.subscribe("orders.placed")
    async def on_placed(evt: Placed) -> None:
        seen.append(evt)

    async with TestApp(make_app(svc)) as t:
        await t.publish("orders.placed", Placed(order_id="o1", qty=2))
        await t.drain()
        assert seen == [Placed(order_id="o1", qty=2)]
        assert t.broker.outstanding == 0


async def test_failing_handler_is_redelivered_until_it_succeeds() -> None:
    svc = il.Service("billing")
    attempts: Counter[str] = Counter()

    @svc.subscribe("orders.placed", retry=quick(4))
    async def flaky(evt: Placed) -> None:
        attempts[evt.order_id] += 1
        if attempts[evt.order_id] < 3:
            raise ConnectionError("database blinked")

    async with TestApp(make_app(svc)) as t:
        await t.publish("orders.placed", Placed(order_id="o1", qty=1))
        await t.drain()
        assert attempts["o1"] == 3
        assert t.dead_letters("orders.placed") == []


async def test_exhausted_retries_go_to_the_dead_letter_topic_with_the_reason() -> None:
    svc = il.Service("billing")
    attempts = 0

    @svc.subscribe("orders.placed", retry=quick(3))
    async def always_fails(evt: Placed) -> None:
        nonlocal attempts
        attempts += 1
        raise ValueError("card expired")

    async with TestApp(make_app(svc)) as t:
        await t.publish("orders.placed", Placed(order_id="o9", qty=1))
        await t.drain()
        assert attempts == 3
        (dead,) = t.dead_letters("orders.placed")
        headers = dead.headers
        assert headers["x-interlink-error-type"] == "ValueError"
        assert headers["x-interlink-error-message"] == "card expired"
        assert headers["x-interlink-attempts"] == "3"
        assert headers["x-interlink-original-topic"] == "orders.placed"
        assert headers["x-interlink-group"] == "billing"
        assert headers["x-interlink-first-failure"] <= headers["x-interlink-last-failure"]
        original = il.Envelope.from_bytes(dead.body)
        assert msgspec.json.decode(bytes(original.data)) == {"order_id": "o9", "qty": 1}


async def test_poison_messages_are_dead_lettered_at_once() -> None:
    svc = il.Service("billing")
    calls = 0

    @svc.subscribe("orders.placed")
    async def handler(evt: Placed) -> None:
        nonlocal calls
        calls += 1

    async with TestApp(make_app(svc)) as t:
        await t.publish("orders.placed", {"order_id": "o1", "qty": "many"})  # invalid model
        await t.broker.publish("orders.placed", b"\x00 not an envelope")  # not even JSON
        await t.drain()
        assert calls == 0
        dead = t.dead_letters("orders.placed")
        # The handler never ran (attempts counts handler runs); each was delivered once.
        assert [d.headers["x-interlink-attempts"] for d in dead] == ["0", "0"]
        assert [d.headers["x-interlink-deliveries"] for d in dead] == ["1", "1"]
        assert dead[0].headers["x-interlink-error-type"] == "ValidationFailed"
        assert "qty" in dead[0].headers["x-interlink-error-message"]
        assert dead[1].headers["x-interlink-error-type"] == "CodecError"


async def test_events_are_published_only_when_the_handler_succeeds() -> None:
    svc = il.Service("orders")
    fail = True

    @svc.rpc
    async def place(req: Placed, ctx: il.Context) -> None:
        await ctx.publish("orders.placed", req, key=req.order_id)
        if fail:
            raise RuntimeError("database write failed")

    async with TestApp(make_app(svc)) as t:
        with contextlib.suppress(il.RemoteError):
            await t.call(place, Placed(order_id="o1", qty=1))
        assert t.published("orders.placed") == []
        fail = False
        await t.call(place, Placed(order_id="o2", qty=1))
        assert t.published("orders.placed") == [{"order_id": "o2", "qty": 1}]
        (envelope,) = t.envelopes("orders.placed")
        assert (envelope.partitionkey, envelope.source, envelope.type) == (
            "o2",
            "/orders",
            "orders.placed",
        )


async def test_correlation_and_causation_flow_from_call_to_event_to_consumer() -> None:
    svc = il.Service("orders")
    seen: list[tuple[str, str | None]] = []

    @svc.rpc
    async def place(req: Placed, ctx: il.Context) -> None:
        await ctx.publish("orders.placed", req)

    @svc.subscribe("orders.placed")
    async def on_placed(evt: Placed, ctx: il.Context) -> None:
        seen.append((ctx.correlation_id, ctx.headers.get("causationid")))

    async with TestApp(make_app(svc)) as t:
        root = t.app.context()
        await root.call(place, Placed(order_id="o1", qty=1))
        await t.drain()
        assert seen[0][0] == root.correlation_id
        assert seen[0][1] is not None


async def test_max_in_flight_bounds_concurrent_handlers() -> None:
    svc = il.Service("worker")
    active = peak = done = 0
    gate = asyncio.Event()

    @svc.subscribe("jobs", max_in_flight=3)
    async def work(job: int) -> None:
        nonlocal active, peak, done
        active += 1
        peak = max(peak, active)
        await gate.wait()
        active -= 1
        done += 1

    async with TestApp(make_app(svc)) as t:
        for i in range(10):
            await t.publish("jobs", i)
        await eventually(lambda: active == 3)
        gate.set()
        await t.drain()
        assert (peak, done) == (3, 10)


async def test_group_members_compete_and_groups_fan_out() -> None:
    left, right, audit = il.Service("left"), il.Service("right"), il.Service("audit")
    handled: Counter[str] = Counter()

    for svc in (left, right):

        @svc.subscribe("jobs", group="workers")
        async def work(job: int, ctx: il.Context) -> None:
            handled[ctx.service] += 1
            await asyncio.sleep(0)

    @audit.subscribe("jobs")
    async def record(job: int) -> None:
        handled["audit"] += 1

    async with TestApp(il.App([left, right, audit])) as t:
        for i in range(40):
            await t.publish("jobs", i)
        await t.drain()
    assert handled["left"] + handled["right"] == 40
    assert handled["left"] > 0
    assert handled["right"] > 0
    assert handled["audit"] == 40


async def test_shutdown_finishes_in_flight_deliveries() -> None:
    svc = il.Service("worker")
    started, finished = asyncio.Event(), []
    release = asyncio.Event()

    @svc.subscribe("jobs")
    async def work(job: int) -> None:
        started.set()
        await release.wait()
        finished.append(job)

    t = await TestApp(make_app(svc)).__aenter__()
    await t.publish("jobs", 7)
    await started.wait()
    stopping = asyncio.create_task(t.__aexit__(None, None, None))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not stopping.done(), "stop must wait for the in-flight delivery"
    release.set()
    await stopping
    assert finished == [7]
    assert t.broker.outstanding == 0


async def test_shutdown_past_the_drain_timeout_returns_the_delivery() -> None:
    svc = il.Service("worker")
    started = asyncio.Event()

    @svc.subscribe("jobs")
    async def stuck(job: int) -> None:
        started.set()
        await asyncio.Event().wait()

    t = TestApp(make_app(svc), drain_timeout=0.05)
    async with t:
        await t.publish("jobs", 1)
        await started.wait()
    # Cancelled at the drain timeout and nacked: still owed to the group, not lost.
    assert t.broker.outstanding == 1
