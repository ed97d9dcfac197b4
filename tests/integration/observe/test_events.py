"""Retries, breaker rejections and dead letters in the trace; the recent-spans endpoint; a
call from outside any handler keeps its context's trace id; off means the plain classes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import interlink as il
from interlink._tracecontext import parse_traceparent
from interlink.resilience import BreakerState
from interlink.runtime._calls import Calls
from interlink.runtime._inbound import Inbound
from interlink.runtime._outbound import Outbound
from tests.conftest import eventually

svc = il.Service("flaky")
_failures: dict[str, int] = {}


@svc.rpc(idempotent=True)
async def work(req: dict[str, Any]) -> dict[str, Any]:
    left = _failures.get(req["id"], 0)
    if left:
        _failures[req["id"]] = left - 1
        raise il.ApplicationError("not yet", status=503, type="NotYet")
    return {"ok": True}


@svc.subscribe("poison", group="victim", retry=il.Retry(attempts=1, on=Exception))
async def swallow(evt: dict[str, Any]) -> None:
    raise ValueError("cannot handle this")


FAST = il.Backoff.constant(0.001)


@pytest.fixture
async def traced() -> AsyncIterator[tuple[il.App, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    observe = il.Observe(tracing=True, exporter=exporter, recent_spans=4)
    async with il.App([svc], port=0, observe=observe) as app:
        yield app, exporter


def finished(app: il.App, exporter: InMemorySpanExporter) -> tuple[ReadableSpan, ...]:
    provider = app.runtime.telemetry.tracer_provider
    assert provider is not None
    assert provider.force_flush()
    return exporter.get_finished_spans()


async def test_each_retry_is_a_client_span_with_its_resend_count_and_a_retry_event(
    traced: tuple[il.App, InMemorySpanExporter],
) -> None:
    app, exporter = traced
    _failures["r"] = 2
    policy = il.Policy(retry=il.Retry(attempts=3, backoff=FAST, on=il.CallError))
    assert await app.call("flaky.work", {"id": "r"}, policy=policy) == {"ok": True}
    clients = [
        s for s in finished(app, exporter) if s.kind is SpanKind.CLIENT and s.name.endswith("work")
    ]
    assert len(clients) == 3
    counts = [(s.attributes or {}).get("http.request.resend_count") for s in clients]
    assert counts == [None, 1, 2]
    assert [[e.name for e in s.events] for s in clients] == [
        [],
        ["interlink.retry"],
        ["interlink.retry"],
    ]
    assert [(s.attributes or {}).get("http.response.status_code") for s in clients] == [
        503,
        503,
        200,
    ]
    assert [(s.attributes or {}).get("error.type") for s in clients][:2] == ["RemoteError"] * 2


async def test_a_breaker_rejection_is_a_failed_client_span_with_a_rejection_event(
    traced: tuple[il.App, InMemorySpanExporter],
) -> None:
    app, exporter = traced
    breaker = il.CircuitBreaker()
    breaker.transition_to(BreakerState.FORCED_OPEN)
    with pytest.raises(il.CallNotPermitted):
        await app.call("flaky.work", {"id": "b"}, policy=il.Policy(breaker=breaker))
    (span,) = [s for s in finished(app, exporter) if s.name == "POST /rpc/flaky/work"]
    assert span.kind is SpanKind.CLIENT
    assert (span.attributes or {})["error.type"] == "CallNotPermitted"
    assert [e.name for e in span.events] == ["interlink.breaker.rejected"]


async def test_a_dead_letter_is_a_span_in_the_message_s_trace(
    traced: tuple[il.App, InMemorySpanExporter],
) -> None:
    app, exporter = traced
    ctx = app.context()
    await ctx.publish("poison", {})

    def dead() -> list[ReadableSpan]:
        return [s for s in finished(app, exporter) if s.name == "dead_letter poison"]

    await eventually(lambda: bool(dead()))
    (span,) = dead()
    (process,) = [s for s in finished(app, exporter) if s.name == "process poison"]
    (create,) = [s for s in finished(app, exporter) if s.name == "create poison"]
    assert span.parent is not None
    assert create.context is not None
    assert span.parent.span_id == create.context.span_id
    assert (span.attributes or {})["error.type"] == "ValueError"
    assert (span.attributes or {})["messaging.consumer.group.name"] == "victim"
    assert [e.name for e in span.events] == ["interlink.dead_letter"]
    assert (process.attributes or {})["error.type"] == "ValueError"


async def test_a_call_from_outside_any_handler_starts_the_trace_its_context_names(
    traced: tuple[il.App, InMemorySpanExporter],
) -> None:
    app, exporter = traced
    ctx = app.context()
    await ctx.call("flaky.work", {"id": "o"})
    fields = parse_traceparent(ctx.traceparent)
    assert fields is not None
    (client,) = [s for s in finished(app, exporter) if s.kind is SpanKind.CLIENT]
    assert client.parent is None
    assert client.context is not None
    assert f"{client.context.trace_id:032x}" == fields[0]


async def spans_after(url: str, after: int | None) -> dict[str, Any]:
    query = "" if after is None else f"?after={after}"
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/_interlink/spans{query}") as r,
    ):
        assert r.status == 200
        assert r.headers["content-type"].startswith("application/json")
        found: dict[str, Any] = await r.json()
        return found


async def test_recent_spans_are_served_as_json_newest_last_and_bounded(
    traced: tuple[il.App, InMemorySpanExporter],
) -> None:
    app, _ = traced
    for n in range(3):  # a client and a server span each: 6 spans, 4 kept
        await app.call("flaky.work", {"id": f"s{n}"})
    page = await spans_after(app.url, None)
    assert page["next"] == 6
    assert len(page["spans"]) == 4
    span = page["spans"][-1]
    assert set(span) == {
        "trace_id",
        "span_id",
        "parent_id",
        "name",
        "kind",
        "service",
        "start",
        "end",
        "status",
        "error_type",
        "attributes",
        "links",
        "events",
    }
    assert len(span["trace_id"]) == 32
    assert len(span["span_id"]) == 16
    assert span["kind"] == "client"  # the client span ends after the server span it caused
    assert span["parent_id"] is None
    server = page["spans"][-2]
    assert (server["kind"], server["parent_id"]) == ("server", span["span_id"])
    assert server["service"] == "flaky"
    assert server["status"] == "ok"
    assert server["error_type"] is None
    assert server["attributes"]["http.route"] == "/rpc/flaky/work"
    assert 0 < server["start"] <= server["end"]
    assert (await spans_after(app.url, page["next"])) == {"next": 6, "spans": []}
    await app.call("flaky.work", {"id": "s4"})
    newer = await spans_after(app.url, page["next"])
    assert newer["next"] == 8
    assert [s["kind"] for s in newer["spans"]] == ["server", "client"]


async def test_with_everything_off_the_plain_call_and_message_paths_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("INTERLINK_TRACING", "INTERLINK_METRICS", "INTERLINK_RECENT_SPANS"):
        monkeypatch.delenv(name, raising=False)
    async with il.App([svc], port=0) as app:
        runtime = app.runtime
        assert type(runtime.inbound) is Inbound
        assert type(runtime.outbound) is Outbound
        assert type(runtime.outbound.calls) is Calls
        assert all(c._on_dead_letter is None for c in runtime.consumers)
