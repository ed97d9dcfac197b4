"""Non-durable request/reply (``durable=False``) on every backend: nothing stored, replies
matched to their callers, a fast error when nobody serves, the same errors as durable ones."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

import interlink as il
from interlink._envelope import format_time
from interlink.broker import Broker, DirectRequests
from tests.conformance.broker.conftest import (
    BACKENDS,
    Backend,
    make_broker,
    open_backend,
    unique,
)
from tests.conftest import eventually

DIRECT = [kind for kind in BACKENDS if kind != "kafka"]
"""Kafka has no non-durable request/reply (see the last test)."""


@pytest.fixture(params=DIRECT)
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    opened = make_broker(request, request.param)
    await opened.connect()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=DIRECT)
async def backend(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Backend]:
    async with open_backend(request, request.param, tmp_path) as opened:
        yield opened


class Job(BaseModel):
    n: int


def quick(attempts: int) -> il.Retry:
    return il.Retry(attempts=attempts, backoff=il.Backoff.constant(0.02), on=Exception)


def direct_server(topic: str, *, label: str = "direct", delay: float = 0.0) -> il.Service:
    svc = il.Service(unique("pricing"))

    @svc.subscribe(topic, group=label, durable=False, max_in_flight=32)
    async def quote(job: Job) -> Job:
        if delay:
            await asyncio.sleep(delay)
        return Job(n=job.n * 10)

    return svc


async def test_200_concurrent_requests_each_get_their_own_reply(backend: Backend) -> None:
    topic = unique("direct.t")
    async with backend.app([direct_server(topic, delay=0.001)]) as app:
        ctx = app.context()
        replies = await asyncio.gather(
            *(
                ctx.request(topic, Job(n=n), returns=Job, timeout=10, durable=False)
                for n in range(200)
            )
        )
    assert [r.n for r in replies] == [n * 10 for n in range(200)]


async def test_a_non_durable_request_is_not_stored(backend: Backend) -> None:
    topic = unique("nostore.t")
    events: list[int] = []
    audit = il.Service(unique("audit"))

    @audit.subscribe(topic, group="audit")
    async def record(job: Job) -> None:
        events.append(job.n)

    async with backend.app([direct_server(topic), audit]) as app:
        ctx = app.context()
        assert await ctx.request(topic, Job(n=1), returns=Job, durable=False, timeout=10) == Job(
            n=10
        )
        await app.publish(topic, Job(n=99))  # goes through the stream: only the event is seen
        await eventually(lambda: 99 in events)
    assert events == [99]


async def test_the_call_chooses_the_path_and_each_subscription_serves_one(
    backend: Backend,
) -> None:
    topic = unique("both.t")
    stored = il.Service(unique("stored"))

    @stored.subscribe(topic, group="stored")
    async def durable(job: Job) -> str:
        return "durable"

    direct = il.Service(unique("direct"))

    @direct.subscribe(topic, group="direct", durable=False)
    async def fast(job: Job) -> str:
        return "direct"

    async with backend.app([stored, direct]) as app:
        ctx = app.context()
        assert await ctx.request(topic, Job(n=1), timeout=10, durable=False) == "direct"
        assert await ctx.request(topic, Job(n=1), timeout=10) == "durable"


async def test_no_responder_fails_fast(backend: Backend) -> None:
    topic = unique("nobody.t")
    only_durable = il.Service(unique("stored"))

    @only_durable.subscribe(topic)
    async def answer(job: Job) -> int:
        return job.n

    async with backend.app([only_durable]) as app:
        started = time.monotonic()
        with pytest.raises(il.ServiceUnavailable, match="no responder") as info:
            await app.context().request(topic, Job(n=1), timeout=10, durable=False)
        assert time.monotonic() - started < 2.0
        assert info.value.not_processed
        assert await app.context().request(topic, Job(n=3), timeout=10) == 3


async def test_no_reply_in_time_is_a_deadline_exceeded(backend: Backend) -> None:
    topic = unique("stuck.t")
    release = asyncio.Event()
    svc = il.Service(unique("slow"))

    @svc.subscribe(topic, durable=False)
    async def slow(job: Job) -> int:
        await release.wait()
        return job.n

    async with backend.app([svc]) as app:
        started = time.monotonic()
        with pytest.raises(il.DeadlineExceeded):
            await app.context().request(topic, Job(n=1), timeout=0.3, durable=False)
        assert 0.25 < time.monotonic() - started < 3.0
        release.set()
        assert await app.context().request(topic, Job(n=5), timeout=10, durable=False) == 5


async def test_a_failing_handler_answers_its_typed_error_and_writes_no_dead_letter(
    backend: Backend,
) -> None:
    topic = unique("refuse.t")
    runs = Counter[int]()
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, durable=False, retry=quick(2))
    async def refuse(job: Job) -> int:
        runs[job.n] += 1
        raise il.ApplicationError("no stock", status=409, type="OutOfStock")

    async with backend.app([svc]) as app:
        ctx = app.context()
        with pytest.raises(il.RemoteError) as info:
            await ctx.request(topic, Job(n=1), timeout=10, durable=False)
        with pytest.raises(il.InvalidRequest):
            await ctx.request(topic, {"n": "not a number"}, timeout=10, durable=False)
    assert (info.value.status, info.value.remote_type) == (409, "OutOfStock")
    assert runs == {1: 2}  # the subscription's retry ran, as for a durable request
    assert await backend.inspect.read(f"{topic}.dlq", limit=10) == []


async def test_members_share_the_requests_whatever_their_group(backend: Backend) -> None:
    topic = unique("shared.t")
    handled: Counter[str] = Counter()

    def member(label: str) -> il.Service:
        svc = il.Service(unique("worker"))

        @svc.subscribe(topic, group=label, durable=False, max_in_flight=4)
        async def work(job: Job, ctx: il.Context) -> int:
            handled[label] += 1
            await asyncio.sleep(0.01)
            return job.n

        return svc

    sent = 0
    async with backend.app([member("a")]) as one, backend.app([member("b")]):
        ctx = one.context()

        async def both_served() -> bool:
            # On a cluster the second member's interest reaches the other nodes a moment
            # later: until then a batch may all go to the first.
            nonlocal sent
            replies = await asyncio.gather(
                *(ctx.request(topic, Job(n=n), timeout=10, durable=False) for n in range(40))
            )
            assert replies == list(range(40))
            sent += 40
            return handled["a"] > 0 and handled["b"] > 0

        await eventually(both_served, timeout=20)
    assert sum(handled.values()) == sent  # each request ran once


async def test_a_request_its_server_drops_is_lost_not_redelivered(broker: Broker) -> None:
    assert isinstance(broker, DirectRequests)
    topic = unique("lost.t")
    first = await broker.serve_requests(topic, max_in_flight=4)
    lost = asyncio.create_task(broker.request(topic, b"lost", timeout=1.0))
    taken = await anext(first)
    assert taken.body == b"lost"
    assert taken.attempt == 1
    second = await broker.serve_requests(topic, max_in_flight=4)
    await taken.nack()
    await first.close()
    with pytest.raises(TimeoutError):
        await lost
    answered = asyncio.create_task(broker.request(topic, b"next", timeout=10))
    delivery = await anext(second)
    assert delivery.body == b"next"
    await broker.send_reply(delivery.headers["x-interlink-reply-to"], b"ok", {"a": "1"})
    reply = await answered
    assert (reply.body, reply.headers["a"]) == (b"ok", "1")
    await second.close()


async def test_a_request_past_its_deadline_is_dropped_unrun(backend: Backend) -> None:
    topic = unique("late.t")
    runs: list[int] = []
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, durable=False)
    async def answer(job: Job) -> int:
        runs.append(job.n)
        return job.n

    async with backend.app([svc]) as app:
        broker = app.runtime.broker
        assert isinstance(broker, DirectRequests)
        late = app.context().event(topic, Job(n=1))
        late.deadline = format_time(time.time() - 1)
        with pytest.raises(TimeoutError):
            await broker.request(topic, late.to_bytes(), timeout=0.5)
        (consumer,) = app.runtime.consumers
        await eventually(lambda: consumer.expired_requests == 1)
        assert await app.context().request(topic, Job(n=2), timeout=10, durable=False) == 2
    assert runs == [2]


async def test_the_handler_continues_the_callers_trace_and_correlation(backend: Backend) -> None:
    topic = unique("traced.t")
    seen: list[tuple[str, str]] = []
    svc = il.Service(unique("svc"))

    @svc.subscribe(topic, durable=False)
    async def answer(job: Job, ctx: il.Context) -> int:
        seen.append((ctx.traceparent.split("-")[1], ctx.correlation_id))
        return job.n

    async with backend.app([svc]) as app:
        caller = app.context()
        assert await caller.request(topic, Job(n=1), timeout=10, durable=False) == 1
    assert seen == [(caller.traceparent.split("-")[1], caller.correlation_id)]


async def test_kafka_refuses_non_durable_requests_clearly(
    request: pytest.FixtureRequest, tmp_path: Any
) -> None:
    async with open_backend(request, "kafka", tmp_path) as kafka:
        with pytest.raises(il.ConfigurationError, match="kafka has no non-durable request/reply"):
            async with kafka.app([direct_server(unique("kafka.direct"))]):
                pass
