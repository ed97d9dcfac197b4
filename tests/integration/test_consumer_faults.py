"""The consumer runtime under faults: every delivery is settled, a running handler owns its
message, counts are honest, shutdown keeps its deadline (memory broker, injected faults)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

import interlink as il
from interlink.messaging import MemoryDedupeStore, list_dead_letters, replay_dead_letters
from interlink.messaging._dedupe import Claim
from interlink.testing import TestApp
from tests.conftest import eventually
from tests.integration.faulty import FaultyBroker


def quick(attempts: int, delay: float = 0.01) -> il.Retry:
    return il.Retry(attempts=attempts, backoff=il.Backoff.constant(delay), on=Exception)


def app_on(broker: il.broker.Broker, *services: il.Service, **settings: Any) -> il.App:
    return il.App(list(services), broker=broker, serve_http=False, **settings)


async def test_one_dedupe_store_serves_two_groups_apart() -> None:
    store = MemoryDedupeStore()
    seen: list[str] = []
    billing, audit = il.Service("billing"), il.Service("audit")

    @billing.subscribe("orders.placed", dedupe=il.Dedupe(store=store))
    async def bill(evt: dict[str, int], ctx: il.Context) -> None:
        seen.append(ctx.service)

    @audit.subscribe("orders.placed", dedupe=il.Dedupe(store=store))
    async def record(evt: dict[str, int], ctx: il.Context) -> None:
        seen.append(ctx.service)

    async with TestApp(il.App([billing, audit])) as t:
        await t.publish("orders.placed", {"n": 1})
        await t.drain()
    assert sorted(seen) == ["audit", "billing"]


async def test_concurrent_copies_of_one_id_run_once() -> None:
    class CountingStore(MemoryDedupeStore):
        busy = 0

        async def claim(self, scope: str, message_id: str, *, lease: float) -> Claim:
            claim = await super().claim(scope, message_id, lease=lease)
            CountingStore.busy += claim is Claim.BUSY
            return claim

    broker = FaultyBroker()
    store = CountingStore()
    runs: list[int] = []
    release = asyncio.Event()

    def member() -> il.Service:
        svc = il.Service("worker")

        # One slot each: the member running the first copy cannot take the second.
        @svc.subscribe("jobs", max_in_flight=1, dedupe=il.Dedupe(store=store))
        async def work(job: int) -> None:
            runs.append(job)
            await release.wait()

        return svc

    async with app_on(broker, member()) as a, app_on(broker, member()):
        raw = a.context().event("jobs", 1, key=None).to_bytes()
        await broker.publish("jobs", raw)
        await eventually(lambda: runs == [1])
        await broker.publish("jobs", raw)  # the same envelope id again, to the other member
        await eventually(lambda: CountingStore.busy >= 1)  # it waits on the running claim
        release.set()
        await eventually(lambda: broker.outstanding == 0)
    assert runs == [1]


async def test_a_copy_of_a_running_message_joins_it_and_is_settled_with_it() -> None:
    broker = FaultyBroker()
    runs: list[int] = []
    release = asyncio.Event()
    svc = il.Service("worker")

    @svc.subscribe("jobs", max_in_flight=4)
    async def work(job: int) -> None:
        runs.append(job)
        await release.wait()

    async with app_on(broker, svc) as app:
        envelope = app.context().event("jobs", 5, key=None)
        for _ in range(3):  # copies of one envelope, held here at once
            await broker.publish("jobs", envelope.to_bytes())
        await eventually(lambda: app.runtime.consumers[0].joined_copies == 2)
        await app.publish("jobs", 6)
        await eventually(lambda: sorted(runs) == [5, 6])  # the copies took no run
        release.set()
        await eventually(lambda: broker.outstanding == 0)
    assert sorted(runs) == [5, 6]


async def test_a_failing_dedupe_store_is_retried_then_dead_lettered_with_the_reason() -> None:
    class BrokenStore(MemoryDedupeStore):
        failures = 0

        async def claim(self, scope: str, message_id: str, *, lease: float) -> Claim:
            BrokenStore.failures += 1
            raise ConnectionError("dedupe store unreachable")

    svc = il.Service("billing")
    runs = 0

    @svc.subscribe("orders", retry=quick(3), dedupe=il.Dedupe(store=BrokenStore()))
    async def handle(evt: int) -> None:
        nonlocal runs
        runs += 1

    async with TestApp(il.App([svc])) as t:
        await t.publish("orders", 1)
        await t.drain()
        (dead,) = t.dead_letters("orders")
    assert runs == 0
    assert BrokenStore.failures == 3
    assert dead.headers["x-interlink-error-type"] == "ConnectionError"
    assert dead.headers["x-interlink-attempts"] == "3"


async def test_a_lost_ack_is_settled_and_the_redelivery_skipped_with_dedupe() -> None:
    broker = FaultyBroker()
    broker.fail_acks = 1
    runs: list[int] = []
    svc = il.Service("billing")

    @svc.subscribe("orders", dedupe=il.Dedupe())
    async def handle(evt: int) -> None:
        runs.append(evt)

    async with app_on(broker, svc) as app:
        await app.publish("orders", 1)
        await eventually(lambda: broker.outstanding == 0)
        consumer = app.runtime.consumers[0]
    assert runs == [1]
    assert (consumer.settle_errors, consumer.skipped_duplicates) == (1, 1)


async def test_retries_count_handler_runs_and_dead_letters_say_runs_and_deliveries() -> None:
    svc = il.Service("billing")
    runs = 0

    @svc.subscribe("orders", retry=quick(4))
    async def broken(evt: int) -> None:
        nonlocal runs
        runs += 1
        raise ValueError("always")

    async with TestApp(il.App([svc])) as t:
        await t.publish("orders", 1)
        await t.drain()
        (dead,) = t.dead_letters("orders")
    assert runs == 4
    assert (dead.headers["x-interlink-attempts"], dead.headers["x-interlink-deliveries"]) == (
        "4",
        "1",
    )


async def test_a_redelivered_message_gets_all_its_runs() -> None:
    broker = FaultyBroker()
    svc = il.Service("billing")
    runs = 0

    @svc.subscribe("orders", retry=quick(3))
    async def broken(evt: int) -> None:
        nonlocal runs
        runs += 1
        raise ValueError("always")

    async with app_on(broker, il.Service("setup")) as setup:
        raw = setup.context().event("orders", 1, key=None).to_bytes()
    subscription = await broker.subscribe("orders", group="billing", max_in_flight=1)
    await broker.publish("orders", raw)
    await (await anext(subscription)).nack()  # a consumer died holding it
    await subscription.close()
    async with app_on(broker, svc):
        await eventually(lambda: len(broker.messages("orders.dlq")) == 1)
    (dead,) = broker.messages("orders.dlq")
    assert runs == 3  # a lost delivery is not a failed run
    assert (dead.headers["x-interlink-attempts"], dead.headers["x-interlink-deliveries"]) == (
        "3",
        "2",
    )


async def test_a_message_that_keeps_coming_back_is_dead_lettered_as_poison() -> None:
    broker = FaultyBroker()
    svc = il.Service("billing")
    runs = 0

    @svc.subscribe("orders", max_redeliveries=2)
    async def handle(evt: int) -> None:
        nonlocal runs
        runs += 1

    async with app_on(broker, svc) as app:
        raw = app.context().event("orders", 1, key=None).to_bytes()
    # Delivered and lost three times (three consumers died holding it): the fourth delivery
    # is dead-lettered without running the handler.
    subscription = await broker.subscribe("orders", group="billing", max_in_flight=1)
    await broker.publish("orders", raw)
    for _ in range(3):
        delivery = await anext(subscription)
        await delivery.nack()
    await subscription.close()
    async with app_on(broker, svc):
        await eventually(lambda: len(broker.messages("orders.dlq")) == 1)
    (dead,) = broker.messages("orders.dlq")
    assert runs == 0
    assert dead.headers["x-interlink-error-type"] == "PoisonMessage"
    assert dead.headers["x-interlink-deliveries"] == "4"


async def test_a_crash_between_dead_letter_and_term_makes_one_dead_letter() -> None:
    broker = FaultyBroker()
    broker.fail_terms = 1  # the term is lost: the message comes back and fails again
    svc = il.Service("billing")
    runs = 0

    @svc.subscribe("orders", retry=quick(1))
    async def broken(evt: int) -> None:
        nonlocal runs
        runs += 1
        raise ValueError("bad")

    async with app_on(broker, svc) as app:
        await app.publish("orders", 1)
        await eventually(lambda: runs == 2 and broker.outstanding == 0)
    assert len(broker.messages("orders.dlq")) == 1


async def test_replay_goes_only_to_the_group_that_failed() -> None:
    broker = FaultyBroker()
    handled: Counter[str] = Counter()
    billing, audit = il.Service("billing"), il.Service("audit")
    broken = True

    @billing.subscribe("orders", retry=quick(1))
    async def bill(evt: int) -> None:
        handled["billing"] += 1
        if broken:
            raise RuntimeError("bug")

    @audit.subscribe("orders")
    async def record(evt: int) -> None:
        handled["audit"] += 1

    async with app_on(broker, billing, audit) as app:
        await app.publish("orders", 1)
        await eventually(lambda: broker.outstanding == 0)
        assert handled == {"billing": 1, "audit": 1}
        (letter,) = await list_dead_letters(broker, "orders")
        assert letter.group == "billing"
        broken = False
        assert await replay_dead_letters(broker, "orders") == 1
        await eventually(lambda: broker.outstanding == 0 and handled["billing"] == 2)
    assert handled == {"billing": 2, "audit": 1}


async def test_a_replayed_message_that_fails_again_is_dead_lettered_again() -> None:
    broker = FaultyBroker()
    svc = il.Service("billing")

    @svc.subscribe("orders", retry=quick(1))
    async def broken(evt: int) -> None:
        raise RuntimeError("still broken")

    async with app_on(broker, svc) as app:
        await app.publish("orders", 1)
        await eventually(lambda: len(broker.messages("orders.dlq")) == 1)
        assert await replay_dead_letters(broker, "orders") == 1
        await eventually(
            lambda: len(broker.messages("orders.dlq")) == 1 and broker.outstanding == 0
        )
        (letter,) = await list_dead_letters(broker, "orders")
        assert letter.error_message == "still broken"


async def test_a_publish_without_acknowledgement_is_resent_with_the_same_id() -> None:
    broker = FaultyBroker()
    lost = 2

    def lose_acks(topic: str, message_id: str | None) -> Exception | None:
        nonlocal lost
        if topic == "orders" and lost > 0:
            lost -= 1
            return il.PublishError("no acknowledgement", maybe_stored=True)
        return None

    broker.publish_fault = lose_acks
    async with app_on(broker, il.Service("svc")) as app:
        await app.publish("orders", 1)
    assert len(broker.messages("orders")) == 1  # three sends, one copy
    assert broker.publish_calls == 3


async def test_a_publish_that_never_gets_acknowledged_says_it_may_be_stored() -> None:
    broker = FaultyBroker()
    broker.publish_fault = lambda topic, _: il.PublishError("no ack", maybe_stored=True)
    svc = il.Service("svc")
    async with app_on(broker, svc) as app:
        app.runtime.outbound._publish_timeout = 0.2
        with pytest.raises(il.PublishError, match="may have been stored") as info:
            await app.publish("orders", 1)
    assert info.value.maybe_stored


async def test_a_refused_publish_is_not_resent() -> None:
    broker = FaultyBroker()
    broker.publish_fault = lambda topic, _: il.PublishError("refused")
    async with app_on(broker, il.Service("svc")) as app:
        with pytest.raises(il.PublishError, match="refused"):
            await app.publish("orders", 1)
    assert broker.publish_calls == 1


async def test_a_handler_timeout_fails_the_run_and_retries_it() -> None:
    svc = il.Service("worker")
    runs = 0

    @svc.subscribe("jobs", timeout=0.05, retry=quick(2))
    async def slow(job: int) -> None:
        nonlocal runs
        runs += 1
        await asyncio.Event().wait()

    async with TestApp(il.App([svc])) as t:
        await t.publish("jobs", 1)
        await t.drain()
        (dead,) = t.dead_letters("jobs")
    assert runs == 2
    assert dead.headers["x-interlink-error-type"] == "TimeoutError"


async def test_a_held_delivery_is_marked_in_progress_while_it_runs() -> None:
    broker = FaultyBroker()
    broker.heartbeat = 0.02
    release = asyncio.Event()
    svc = il.Service("worker")

    @svc.subscribe("jobs")
    async def slow(job: int) -> None:
        await release.wait()

    async with app_on(broker, svc) as app:
        await app.publish("jobs", 1)
        await eventually(lambda: broker.progress >= 3)
        release.set()
        await eventually(lambda: broker.outstanding == 0)


async def test_the_drain_deadline_holds_when_every_slot_is_taken() -> None:
    broker = FaultyBroker()
    svc = il.Service("worker")
    running = 0

    @svc.subscribe("jobs", max_in_flight=2)
    async def stuck(job: int) -> None:
        nonlocal running
        running += 1
        await asyncio.Event().wait()

    app = app_on(broker, svc, drain_timeout=0.2)
    async with app:
        for n in range(5):
            await app.publish("jobs", n)
        await eventually(lambda: running == 2)
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    assert broker.outstanding == 5  # the two running were handed back, three never taken


async def test_a_full_consumer_stops_as_soon_as_its_work_is_done() -> None:
    broker = FaultyBroker()
    svc = il.Service("worker")
    running = 0
    release = asyncio.Event()

    @svc.subscribe("jobs", max_in_flight=2)
    async def busy(job: int) -> None:
        nonlocal running
        running += 1
        await release.wait()

    app = app_on(broker, svc, drain_timeout=5.0)
    async with app:
        for n in range(5):
            await app.publish("jobs", n)
        await eventually(lambda: running == 2)
        asyncio.get_running_loop().call_later(0.1, release.set)
        started = time.monotonic()
    # Full, the reader waited for a slot: stopping must not wait out drain_timeout for it.
    assert time.monotonic() - started < 2.0
    assert broker.outstanding == 3  # the two running finished and were acked


async def test_consumers_drain_together_against_one_deadline() -> None:
    broker = FaultyBroker()
    running = 0
    services = []
    for n in range(4):
        svc = il.Service(f"worker{n}")

        @svc.subscribe("jobs")
        async def stuck(job: int) -> None:
            nonlocal running
            running += 1
            await asyncio.Event().wait()

        services.append(svc)
    app = app_on(broker, *services, drain_timeout=0.3)
    async with app:
        await app.publish("jobs", 1)
        await eventually(lambda: running == 4)
        started = time.monotonic()
    assert time.monotonic() - started < 0.9  # one deadline, not four in a row


async def test_a_retry_pause_cut_by_shutdown_hands_the_message_back() -> None:
    broker = FaultyBroker()
    runs: list[int] = []

    def worker(fail: bool) -> il.Service:
        svc = il.Service("worker")

        @svc.subscribe("jobs", retry=quick(3, delay=60.0))
        async def flaky(job: int) -> None:
            runs.append(job)
            if fail:
                raise ConnectionError("blip")

        return svc

    app = app_on(broker, worker(fail=True), drain_timeout=0.05)
    async with app:
        await app.publish("jobs", 1)
        await eventually(lambda: runs == [1])  # now pausing 60 s before the next run
    assert broker.outstanding == 1
    async with app_on(broker, worker(fail=False)):
        await eventually(lambda: broker.outstanding == 0)
    assert runs == [1, 1]


class _Delivery:
    def __init__(self, body: bytes, key: str) -> None:
        self.topic, self.body, self.headers, self.key, self.attempt = "jobs", body, {}, key, 1
        self.acked = False

    async def ack(self) -> None:
        self.acked = True

    async def nack(self, delay: float = 0.0) -> None:
        raise AssertionError("not expected")

    term = nack

    async def in_progress(self) -> None:
        return None


class _Burst:
    """Hands out every message at once, a key's included (as a Kafka partition reader does):
    only the consumer's key lanes keep that key's messages one at a time, in order."""

    heartbeat = None

    def __init__(self, deliveries: list[_Delivery]) -> None:
        self._left = list(deliveries)
        self._closed = asyncio.Event()

    def __aiter__(self) -> _Burst:
        return self

    async def __anext__(self) -> _Delivery:
        if self._left:
            return self._left.pop(0)
        await self._closed.wait()
        raise StopAsyncIteration

    async def close(self) -> None:
        self._closed.set()


class _BurstBroker(FaultyBroker):
    def __init__(self) -> None:
        super().__init__()
        self.deliveries: list[_Delivery] = []

    async def subscribe(self, topic: str, *, group: str | None, max_in_flight: int) -> Any:
        return _Burst(self.deliveries)


async def test_key_lanes_keep_order_when_the_broker_hands_out_a_key_at_once() -> None:
    broker = _BurstBroker()
    seen: list[int] = []
    active = overlap = 0
    svc = il.Service("worker")

    @svc.subscribe("jobs", max_in_flight=16)
    async def work(job: int) -> None:
        nonlocal active, overlap
        active += 1
        overlap = max(overlap, active)
        await asyncio.sleep(0.001 * (10 - job))  # earlier ones take longer
        seen.append(job)
        active -= 1

    async with app_on(broker, il.Service("setup")) as setup:
        for n in range(10):
            raw = setup.context().event("jobs", n, key="k").to_bytes()
            broker.deliveries.append(_Delivery(raw, "k"))
    deliveries = list(broker.deliveries)
    async with app_on(broker, svc):
        await eventually(lambda: all(d.acked for d in deliveries))
    assert seen == list(range(10))
    assert overlap == 1


async def test_a_backlogged_handler_can_call_out_as_soon_as_it_starts() -> None:
    broker = FaultyBroker()
    errors: list[str] = []
    svc = il.Service("notifier")

    @svc.subscribe("orders", retry=quick(1))
    async def notify(evt: int, ctx: il.Context) -> None:
        try:
            await ctx.call("mailer.send", {"n": evt})
        except Exception as exc:
            errors.append(type(exc).__name__)
            raise

    subscription = await broker.subscribe("orders", group="notifier", max_in_flight=1)
    await subscription.close()  # the group exists: what comes now waits for it
    async with app_on(broker, il.Service("setup")) as setup:
        for n in range(5):
            await setup.publish("orders", n)
    async with app_on(broker, svc):
        await eventually(lambda: len(errors) == 5)
    assert set(errors) == {"ServiceUnavailable"}
