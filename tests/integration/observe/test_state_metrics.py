"""State metrics over real HTTP: breakers, retries, bulkheads, subscriptions, dead letters,
sagas — scraped from ``GET /metrics`` and parsed with the Prometheus text parser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import interlink as il
from interlink.broker import MemoryBroker
from interlink.messaging.inbox import Database
from interlink.observe import Observe
from interlink.resilience import Backoff, Bulkhead, CircuitBreaker, CountWindow, Policy, Retry
from interlink.saga import Saga, StepRetry
from interlink.testing import FakeClock
from tests.conftest import NatsServer, eventually
from tests.integration.observe._scrape import scrape, value

METRICS = Observe(metrics=True)
STATE_NAMES = {
    "interlink_breaker_state",
    "interlink_breaker_transitions",
    "interlink_breaker_rejections",
    "interlink_retries",
    "interlink_bulkhead_rejections",
    "interlink_subscription_pending_messages",
    "interlink_subscription_unacknowledged_messages",
    "interlink_subscription_redelivered_messages",
    "interlink_dead_letters",
    "interlink_sagas",
}

backend = il.Service("backend")
gate: dict[str, asyncio.Event] = {}


@backend.rpc
async def boom(req: dict[str, int]) -> int:
    raise RuntimeError("broken")


@backend.rpc(idempotent=True)
async def safe_boom(req: dict[str, int]) -> int:
    raise RuntimeError("broken, safely")


@backend.rpc
async def wait(req: dict[str, int]) -> int:
    gate["entered"].set()
    await gate["open"].wait()
    return 1


@pytest.fixture(autouse=True)
def quick_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLINK_STATE_INTERVAL", "0.1")
    gate["open"], gate["entered"] = asyncio.Event(), asyncio.Event()


@pytest.fixture
async def callee() -> AsyncIterator[il.App]:
    async with il.App([backend], port=0) as app:
        yield app


def caller(callee: il.App, policy: Policy, clock: Any = None) -> il.App:
    port = callee.url.rsplit(":", 1)[1]
    return il.App(
        [il.Service("front")],
        port=0,
        registry=f"static:backend=127.0.0.1:{port}",
        policies={"backend": policy},
        observe=METRICS,
        **({} if clock is None else {"clock": clock}),
    )


async def test_every_state_metric_name_is_served() -> None:
    async with il.App([backend], port=0, observe=METRICS) as app:
        names = set(await scrape(app.url))
    assert names >= STATE_NAMES


async def test_a_breaker_opened_by_a_failing_service_shows_open_and_its_transitions(
    callee: il.App,
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        window=CountWindow(4), minimum_calls=4, wait_in_open=30.0, half_open_calls=1, clock=clock
    )
    async with caller(callee, Policy(breaker=breaker, clock=clock), clock) as app:
        first = await scrape(app.url)
        assert value(first, "interlink_breaker_state", interlink_target="backend") is None
        for _ in range(4):
            with pytest.raises(il.RemoteError):
                await app.call("backend.boom", {})
        with pytest.raises(il.CallNotPermitted):
            await app.call("backend.boom", {})
        opened = await scrape(app.url)
        clock.advance(30.0)
        with pytest.raises(il.RemoteError):
            await app.call("backend.boom", {})  # the one probe fails: open again
        probed = await scrape(app.url)

    def state(families: Any, name: str) -> float | None:
        return value(families, "interlink_breaker_state", interlink_target="backend", state=name)

    assert (state(opened, "open"), state(opened, "closed"), state(opened, "half_open")) == (1, 0, 0)
    moves = "interlink_breaker_transitions_total"
    assert value(opened, moves, interlink_target="backend", from_state="closed") == 1
    assert value(opened, moves, interlink_target="backend", to_state="open") == 1
    assert value(opened, "interlink_breaker_rejections_total", interlink_target="backend") == 1
    assert value(probed, moves, from_state="open", to_state="half_open") == 1
    assert value(probed, moves, from_state="half_open", to_state="open") == 1
    assert state(probed, "open") == 1


async def test_retries_are_counted_per_target(callee: il.App) -> None:
    retry = Retry(attempts=3, backoff=Backoff.constant(0.0), on=il.CallError)
    async with caller(callee, Policy(retry=retry)) as app:
        for _ in range(2):
            with pytest.raises(il.RemoteError):
                await app.call("backend.safe_boom", {})
        families = await scrape(app.url)
    assert value(families, "interlink_retries_total", interlink_target="backend") == 4
    assert value(families, "interlink_breaker_rejections_total", interlink_target="backend") == 0
    assert value(families, "interlink_bulkhead_rejections_total", interlink_target="backend") == 0


async def test_bulkhead_rejections_are_counted(callee: il.App) -> None:
    async with caller(callee, Policy(bulkhead=Bulkhead(max_concurrent=1))) as app:
        first = asyncio.create_task(app.call("backend.wait", {}))
        await eventually(gate["entered"].is_set)
        for _ in range(3):
            with pytest.raises(il.BulkheadFull):
                await app.call("backend.wait", {})
        gate["open"].set()
        assert await first == 1
        families = await scrape(app.url)
    assert value(families, "interlink_bulkhead_rejections_total", interlink_target="backend") == 3


async def test_subscription_pending_unacknowledged_and_dead_letters_on_nats(
    nats_server: NatsServer,
) -> None:
    svc = il.Service("stats-nats")
    held = asyncio.Event()
    running: list[int] = []

    @svc.subscribe("stats.work", max_in_flight=2)
    async def work(n: int) -> None:
        running.append(n)
        await held.wait()

    @svc.subscribe("stats.bad", retry=il.Retry(attempts=1, on=Exception))
    async def bad(n: int) -> None:
        raise ValueError(n)

    async with il.App([svc], broker=nats_server.url, port=0, observe=METRICS) as app:
        for n in range(5):
            await app.publish("stats.work", n)
        await app.publish("stats.bad", 1)
        labels = {"messaging_destination_name": "stats.work"}
        labels["messaging_consumer_group_name"] = svc.name
        bad_labels = {**labels, "messaging_destination_name": "stats.bad"}

        async def sampled() -> bool:
            got = await scrape(app.url)
            return (
                value(got, "interlink_subscription_pending_messages", **labels) == 3
                and value(got, "interlink_subscription_unacknowledged_messages", **labels) == 2
                and value(got, "interlink_dead_letters", **bad_labels) == 1
            )

        await eventually(sampled, timeout=15)
        held.set()

        async def drained() -> bool:
            got = await scrape(app.url)
            return (
                value(got, "interlink_subscription_pending_messages", **labels) == 0
                and value(got, "interlink_subscription_unacknowledged_messages", **labels) == 0
            )

        await eventually(drained, timeout=15)


async def test_a_delivery_given_back_counts_as_redelivered_where_it_comes_again() -> None:
    first, second = il.Service("redeliver"), il.Service("redeliver")
    seen: list[str] = []

    @first.subscribe("stats.again", group="g")
    async def stuck(n: int) -> None:
        seen.append("first")
        await asyncio.Event().wait()  # never finishes: the drain gives the delivery back

    @second.subscribe("stats.again", group="g")
    async def done(n: int) -> None:
        seen.append("second")

    async with MemoryBroker() as broker:
        async with il.App([first], broker=broker, port=0, drain_timeout=0.1) as one:
            await one.publish("stats.again", 1)
            await eventually(lambda: seen == ["first"])
        async with il.App([second], broker=broker, port=0, observe=METRICS) as two:
            await eventually(lambda: seen == ["first", "second"])
            families = await scrape(two.url)
    labels = {"messaging_destination_name": "stats.again", "messaging_consumer_group_name": "g"}
    assert value(families, "interlink_subscription_redelivered_messages_total", **labels) == 1


async def test_sagas_are_counted_by_status(tmp_path: Path) -> None:
    class Declined(Exception):
        pass

    db = Database(f"sqlite:///{tmp_path / 'sagas.db'}")
    ok = Saga("paid", data=dict, store=db)
    no = Saga("refused", data=dict, store=db, retry=StepRetry(non_retryable=(Declined,)))

    @ok.step
    async def pay(data: dict[str, Any], ctx: il.Context) -> None:
        return None

    @no.step
    async def refuse(data: dict[str, Any], ctx: il.Context) -> None:
        raise Declined("no")

    async with il.App([il.Service("shop")], port=0, sagas=[ok, no], observe=METRICS) as app:
        for n in range(2):
            await app.sagas.wait(await app.sagas.start(ok, {"n": n}))
        await app.sagas.wait(await app.sagas.start(no, {}))

        async def counted() -> bool:
            got = await scrape(app.url)
            return value(got, "interlink_sagas", saga="paid", status="COMPLETED") == 2

        await eventually(counted)
        families = await scrape(app.url)
    assert value(families, "interlink_sagas", saga="paid", status="RUNNING") == 0
    refused = {
        status: value(families, "interlink_sagas", saga="refused", status=status)
        for status in ("RUNNING", "COMPLETED", "COMPENSATED", "FAILED")
    }
    assert sum(v or 0 for v in refused.values()) == 1
    assert refused["COMPLETED"] == refused["RUNNING"] == 0


async def test_a_wrong_sampling_interval_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLINK_STATE_INTERVAL", "0")
    with pytest.raises(il.ConfigurationError, match="INTERLINK_STATE_INTERVAL"):
        async with il.App([backend], port=0, observe=METRICS):
            pass


async def test_metrics_off_builds_no_state_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERLINK_METRICS", raising=False)
    async with il.App([backend], port=0) as app:
        assert app.runtime.state_metrics is None
