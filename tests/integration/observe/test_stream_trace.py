"""Streaming RPCs in the trace and the metrics: one client and one server span per stream,
the item count and how it ended, in-process, over HTTP and over the socket transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import interlink as il
from interlink.discovery import MemoryRegistry
from tests.conftest import eventually

svc = il.Service("counter")
started: list[int] = []


@svc.rpc
async def count(req: dict[str, int], ctx: il.Context) -> AsyncIterator[int]:
    started.append(req["to"])
    for n in range(req["to"]):
        if n == req.get("fail_at", -1):
            raise RuntimeError("broke")
        yield n
    await ctx.publish("counter.done", {"to": req["to"]})


@svc.rpc
async def slow(req: dict[str, int]) -> AsyncIterator[int]:
    n = 0
    while True:
        yield n
        n += 1
        await asyncio.sleep(0.001)


WHERE = ["in-process", "http", "socket"]


@pytest.fixture(params=WHERE)
async def apps(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[il.App, il.App, list[InMemorySpanExporter]]]:
    exporters = [InMemorySpanExporter(), InMemorySpanExporter()]
    observe = [il.Observe(tracing=True, exporter=e, metrics=True) for e in exporters]
    if request.param == "in-process":
        async with il.App([svc], port=0, observe=observe[0]) as app:
            yield app, app, exporters[:1]
        return
    registry = MemoryRegistry()
    async with (
        il.App([svc], registry=registry, port=0, socket=True, observe=observe[0]) as server,
        il.App(
            [],
            registry=registry,
            serve_http=False,
            transports={"counter": request.param},
            observe=observe[1],
        ) as caller,
    ):
        yield server, caller, exporters


def spans_of(apps: tuple[il.App, il.App, list[InMemorySpanExporter]]) -> list[ReadableSpan]:
    server, caller, exporters = apps
    for app in {id(server): server, id(caller): caller}.values():
        provider = app.runtime.telemetry.tracer_provider
        assert provider is not None
        assert provider.force_flush()
    return [s for e in exporters for s in e.get_finished_spans()]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def pair(spans: list[ReadableSpan], method: str) -> tuple[ReadableSpan, ReadableSpan]:
    (client,) = [s for s in spans if s.kind is SpanKind.CLIENT and s.name.endswith(method)]
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER and s.name.endswith(method)]
    return client, server


async def test_a_completed_stream_is_one_client_and_one_server_span_with_its_item_count(
    apps: tuple[il.App, il.App, list[InMemorySpanExporter]],
) -> None:
    _, caller, _ = apps
    async with caller.stream("counter.count", {"to": 3}, returns=int) as items:
        assert [n async for n in items] == [0, 1, 2]
    await eventually(lambda: any(s.name == "create counter.done" for s in spans_of(apps)))
    spans = spans_of(apps)
    client, server = pair(spans, "count")
    assert server.parent is not None
    assert server.parent.span_id == client.context.span_id
    assert server.context.trace_id == client.context.trace_id
    for span in (client, server):
        assert attrs(span)["interlink.stream.items"] == 3
        assert attrs(span)["interlink.stream.end"] == "completed"
        assert span.status.is_ok
    # what the handler published is a child of the server span
    create = next(s for s in spans if s.name == "create counter.done")
    assert create.parent is not None
    assert create.parent.span_id == server.context.span_id


async def test_a_stream_that_fails_after_some_items_is_failed_with_its_error(
    apps: tuple[il.App, il.App, list[InMemorySpanExporter]],
) -> None:
    _, caller, _ = apps
    got: list[int] = []

    async def read() -> None:
        async with caller.stream("counter.count", {"to": 5, "fail_at": 2}, returns=int) as items:
            async for n in items:
                got.append(n)

    with pytest.raises(il.RemoteError):
        await read()
    assert got == [0, 1]
    await eventually(lambda: len([s for s in spans_of(apps) if s.name.endswith("count")]) == 2)
    client, server = pair(spans_of(apps), "count")
    for span in (client, server):
        assert attrs(span)["interlink.stream.items"] == 2
        assert attrs(span)["interlink.stream.end"] == "failed"
        assert not span.status.is_ok
    assert attrs(client)["error.type"] == "RemoteError"
    assert attrs(server)["error.type"] == "RuntimeError"


async def test_a_stream_the_caller_closes_early_is_cancelled_on_both_sides(
    apps: tuple[il.App, il.App, list[InMemorySpanExporter]],
) -> None:
    _, caller, _ = apps
    async with caller.stream("counter.slow", {}, returns=int) as items:
        async for n in items:
            if n == 3:
                break
    await eventually(lambda: len([s for s in spans_of(apps) if s.name.endswith("slow")]) == 2)
    client, server = pair(spans_of(apps), "slow")
    assert attrs(client)["interlink.stream.items"] == 4
    assert attrs(server)["interlink.stream.items"] >= 4
    for span in (client, server):
        assert attrs(span)["interlink.stream.end"] == "cancelled"
        assert "error.type" not in attrs(span)
        assert span.status.is_ok


async def test_a_stream_is_one_observation_in_each_call_duration_histogram(
    apps: tuple[il.App, il.App, list[InMemorySpanExporter]],
) -> None:
    server, caller, _ = apps
    async with caller.stream("counter.count", {"to": 2}, returns=int) as items:
        assert [n async for n in items] == [0, 1]
    await eventually(lambda: len([s for s in spans_of(apps) if s.name.endswith("count")]) == 2)

    def count_of(app: il.App, name: str) -> float:
        registry = app.runtime.telemetry.registry
        assert registry is not None
        for metric in registry.collect():
            for sample in metric.samples:
                if sample.name == name and "counter" in str(sample.labels):
                    return sample.value
        return 0.0

    assert count_of(server, "http_server_request_duration_seconds_count") == 1
    assert count_of(caller, "http_client_request_duration_seconds_count") == 1
