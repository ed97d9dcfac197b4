"""What every backend guarantees through the consumer runtime (DESIGN.md §4, events)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter, defaultdict

import msgspec
import pytest
from pydantic import BaseModel

import interlink as il
from interlink.messaging import Dedupe, list_dead_letters, replay_dead_letters
from tests.conformance.broker.conftest import JETSTREAM, Backend, unique
from tests.conftest import eventually


class Job(BaseModel):
    n: int
    key: str = ""


def quick(attempts: int) -> il.Retry:
    return il.Retry(attempts=attempts, backoff=il.Backoff.constant(0.02), on=Exception)


async def test_every_group_gets_every_event(backend: Backend) -> None:
    topic = unique("fanout.t")
    seen: dict[str, list[int]] = defaultdict(list)
    services = []
    for name in ("billing", "audit"):
        svc = il.Service(unique(name))

        @svc.subscribe(topic, group=name)
        async def handle(job: Job, ctx: il.Context) -> None:
            seen[ctx.service].append(job.n)

        services.append(svc)
    async with backend.app(services) as app:
        for n in range(5):
            await app.publish(topic, Job(n=n))
        await eventually(lambda: sum(map(len, seen.values())) == 10)
    assert sorted(sorted(v) for v in seen.values()) == [[0, 1, 2, 3, 4]] * 2


async def test_members_of_a_group_share_the_load(backend: Backend) -> None:
    topic = unique("share.t")
    handled: Counter[str] = Counter()

    def member(label: str) -> il.Service:
        svc = il.Service("worker")

        @svc.subscribe(topic, max_in_flight=2)
        async def work(job: Job) -> None:
            handled[label] += 1
            await asyncio.sleep(0.01)

        return svc

    async with backend.app([member("a")]) as a, backend.app([member("b")]):
        for n in range(30):
            await a.publish(topic, Job(n=n))
        await eventually(lambda: handled.total() == 30, timeout=10)
    assert handled["a"] > 0
    assert handled["b"] > 0
    assert handled.total() == 30


async def test_a_failing_handler_is_retried_until_it_succeeds(backend: Backend) -> None:
    topic = unique("retry.t")
    attempts: Counter[int] = Counter()
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, retry=quick(4))
    async def flaky(job: Job) -> None:
        attempts[job.n] += 1
        if attempts[job.n] < 3:
            raise ConnectionError("blip")

    async with backend.app([svc]) as app:
        await app.publish(topic, Job(n=1))
        await app.publish(topic, Job(n=2, key="k"))  # keyed: retried in place
        await eventually(lambda: attempts[1] == 3 and attempts[2] == 3)
    assert await list_dead_letters(backend.inspect, topic) == []


async def test_exhausted_retries_dead_letter_with_the_reason(backend: Backend) -> None:
    topic = unique("dead.t")
    calls = 0
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, group="payments", retry=quick(3))
    async def broken(job: Job) -> None:
        nonlocal calls
        calls += 1
        raise ValueError(f"cannot charge {job.n}")

    async with backend.app([svc]) as app:
        await app.publish(topic, Job(n=7))

        async def dead() -> bool:
            return len(await list_dead_letters(backend.inspect, topic)) == 1

        await eventually(dead)
    (letter,) = await list_dead_letters(backend.inspect, topic)
    assert calls == 3
    assert (letter.error_type, letter.error_message) == ("ValueError", "cannot charge 7")
    assert (letter.attempts, letter.group, letter.original_topic) == (3, "payments", topic)
    assert letter.first_failure <= letter.last_failure
    assert letter.envelope_id is not None


async def test_a_poison_message_is_dead_lettered_without_retries(backend: Backend) -> None:
    topic = unique("poison.t")
    calls = 0
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, retry=quick(5))
    async def handle(job: Job) -> None:
        nonlocal calls
        calls += 1

    async with backend.app([svc]) as app:
        await app.publish(topic, {"n": "not a number"})
        await backend.inspect.publish(topic, b"not even an envelope")

        async def dead() -> bool:
            return len(await list_dead_letters(backend.inspect, topic)) == 2

        await eventually(dead)
    letters = await list_dead_letters(backend.inspect, topic)
    assert calls == 0
    # Handled concurrently: the order of the two dead letters is not fixed.
    assert sorted((d.error_type, d.attempts) for d in letters) == [
        ("CodecError", 0),
        ("ValidationFailed", 0),
    ]


async def test_dead_letters_can_be_replayed(backend: Backend) -> None:
    topic = unique("replay.t")
    broken = True
    done: list[int] = []
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, retry=quick(1))
    async def handle(job: Job) -> None:
        if broken:
            raise RuntimeError("bug")
        done.append(job.n)

    async with backend.app([svc]) as app:
        await app.publish(topic, Job(n=1))
        await app.publish(topic, Job(n=2))

        async def dead(n: int) -> bool:
            return len(await list_dead_letters(backend.inspect, topic)) == n

        await eventually(lambda: dead(2))
        broken = False  # the bug is fixed
        # The two failed concurrently: dead-letter order is not publish order.
        first = (await list_dead_letters(backend.inspect, topic))[0]
        n = msgspec.json.decode(bytes(il.Envelope.from_bytes(first.message.body).data))["n"]
        assert await replay_dead_letters(backend.inspect, topic, envelope_id=first.envelope_id) == 1
        await eventually(lambda: done == [n])
        assert await replay_dead_letters(backend.inspect, topic) == 1
        await eventually(lambda: sorted(done) == [1, 2])
        assert await dead(0)


async def test_messages_of_one_key_are_handled_in_order(backend: Backend) -> None:
    topic = unique("order.t")
    seen: dict[str, list[int]] = defaultdict(list)
    active = peak = 0
    rng = random.Random(7)
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, max_in_flight=12)
    async def handle(job: Job) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(rng.random() * 0.004)
        seen[job.key].append(job.n)
        active -= 1

    async with backend.app([svc]) as app:
        for n in range(90):
            key = f"k{n % 3}"
            await app.publish(topic, Job(n=n, key=key), key=key)
        await eventually(lambda: sum(map(len, seen.values())) == 90, timeout=10)
    for key, ns in seen.items():
        assert ns == sorted(ns), key
    assert peak > 1  # different keys ran in parallel


async def test_duplicates_are_processed_once_with_dedupe(backend: Backend) -> None:
    topic = unique("dedupe.t")
    handled: list[int] = []
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, dedupe=Dedupe(window=60))
    async def handle(job: Job) -> None:
        handled.append(job.n)

    async with backend.app([svc]) as app:
        envelope = app.context().event(topic, Job(n=1, key="k"), key="k")
        raw = envelope.to_bytes()
        await backend.inspect.publish(topic, raw, key="k")
        await backend.inspect.publish(topic, raw, key="k")  # the same envelope id again
        sentinel = app.context().event(topic, Job(n=2, key="k"), key="k")
        await backend.inspect.publish(topic, sentinel.to_bytes(), key="k")
        await eventually(lambda: 2 in handled)  # same key: the duplicate was settled before
    assert handled == [1, 2]


async def test_request_reply_with_200_concurrent_requests(backend: Backend) -> None:
    topic = unique("quote.t")
    responder = il.Service(unique("pricing"))

    @responder.subscribe(topic)
    async def quote(job: Job) -> Job:
        await asyncio.sleep(0.001)
        return Job(n=job.n * 10)

    async with backend.app([responder]) as app:
        ctx = app.context()
        replies = await asyncio.gather(
            *(ctx.request(topic, Job(n=n), returns=Job, timeout=10) for n in range(200))
        )
        assert [r.n for r in replies] == [n * 10 for n in range(200)]


async def test_a_late_reply_is_dropped_and_counted(backend: Backend) -> None:
    topic = unique("slow.t")
    release = asyncio.Event()
    responder = il.Service(unique("slow"))

    @responder.subscribe(topic)
    async def slow(job: Job) -> int:
        await release.wait()
        return job.n

    async with backend.app([responder]) as app:
        with pytest.raises(il.DeadlineExceeded):
            await app.context().request(topic, Job(n=1), timeout=0.2)
        requester = app.runtime.requester
        release.set()
        await eventually(lambda: requester.late_replies == 1)
        assert await app.context().request(topic, Job(n=5), timeout=10) == 5


async def test_a_failed_request_returns_the_error(backend: Backend) -> None:
    topic = unique("fails.t")
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, retry=quick(2))
    async def refuse(job: Job) -> int:
        raise il.ApplicationError("no stock", status=409, type="OutOfStock")

    async with backend.app([svc]) as app:
        with pytest.raises(il.RemoteError) as info:
            await app.context().request(topic, Job(n=1), timeout=10)
    assert (info.value.status, info.value.remote_type) == (409, "OutOfStock")


async def test_max_in_flight_is_honoured(backend: Backend) -> None:
    topic = unique("flight.t")
    active = peak = done = 0
    gate = asyncio.Event()
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, max_in_flight=3)
    async def work(job: Job) -> None:
        nonlocal active, peak, done
        active += 1
        peak = max(peak, active)
        await gate.wait()
        active -= 1
        done += 1

    async with backend.app([svc]) as app:
        for n in range(10):
            await app.publish(topic, Job(n=n))
        await eventually(lambda: active == 3)
        gate.set()
        await eventually(lambda: done == 10)
    assert peak == 3


async def test_graceful_shutdown_loses_nothing(backend: Backend) -> None:
    topic = unique("drain.t")
    handled: set[int] = set()

    def worker() -> il.Service:
        svc = il.Service("drainer")

        @svc.subscribe(topic, max_in_flight=4)
        async def work(job: Job) -> None:
            await asyncio.sleep(0.005)
            handled.add(job.n)

        return svc

    async with backend.app([worker()], drain_timeout=5) as app:
        for n in range(40):
            await app.publish(topic, Job(n=n))
        await eventually(lambda: len(handled) >= 5)
    stopped_with = len(handled)
    async with backend.app([worker()]):
        await eventually(lambda: len(handled) == 40, timeout=10)
    assert stopped_with >= 5


async def test_the_nats_dedupe_store_takes_any_id_and_runs_it_once(backend: Backend) -> None:
    topic = unique("kvdedupe.t")
    handled: list[int] = []
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, dedupe=Dedupe(window=60, store="nats"))
    async def handle(job: Job) -> None:
        handled.append(job.n)

    if backend.kind not in JETSTREAM:  # the store lives on the NATS server: a clear refusal
        with pytest.raises(il.ConfigurationError, match="needs the App's broker to be NATS"):
            async with backend.app([svc]):
                pass
        return
    async with backend.app([svc]) as app:
        envelope = app.context().event(topic, Job(n=1), key=None)
        envelope.id = f"urn:uuid:{unique('id')}"  # not a valid NATS KV key as it is
        raw = envelope.to_bytes()
        await backend.inspect.publish(topic, raw)
        await eventually(lambda: handled == [1])
        await backend.inspect.publish(topic, raw)  # later, the same id again
        sentinel = app.context().event(topic, Job(n=2), key=None)
        await backend.inspect.publish(topic, sentinel.to_bytes())
        await eventually(lambda: 2 in handled)
        consumer = app.runtime.consumers[0]
        await eventually(lambda: consumer.skipped_duplicates == 1)
    assert handled == [1, 2]


async def test_a_handler_longer_than_the_ack_wait_runs_once(backend: Backend) -> None:
    # The backend fixture runs NATS with ack_wait=1: without the in-progress signal the
    # message would be redelivered (to this or another member) while it still runs.
    topic = unique("long.t")
    runs: list[int] = []
    svc = il.Service("longrunner")

    @svc.subscribe(topic, max_in_flight=4)
    async def slow(job: Job) -> None:
        runs.append(job.n)
        await asyncio.sleep(2.5)

    # On Kafka a second member's join rebalances the group, and a handler running across a
    # rebalance may run again (see docs/messaging.md, Kafka): one member shows the property.
    second = contextlib.nullcontext() if backend.kind == "kafka" else backend.app([svc])
    async with backend.app([svc]) as app, second:
        await app.publish(topic, Job(n=1), key="k")
        await app.publish(topic, Job(n=2))
        await eventually(lambda: sorted(runs) == [1, 2], timeout=10)
        consumers = app.runtime.consumers

        async def settled() -> bool:
            return sum(len(c._held) for c in consumers) == 0

        await eventually(settled, timeout=10)
    assert sorted(runs) == [1, 2]
