"""A ``send`` span for the events an outbox relay publishes and for ``ctx.request``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import interlink as il
from interlink.outbox import SqliteOutbox
from tests.conftest import eventually

svc = il.Service("sender")
_seen: list[int] = []


@svc.subscribe("sends.relayed", group="g-relayed")
async def relayed(evt: dict[str, int]) -> None:
    _seen.append(evt["n"])


@svc.subscribe("sends.asked", group="g-asked")
async def asked(evt: dict[str, int]) -> dict[str, int]:
    return {"twice": evt["n"] * 2}


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[tuple[il.App, InMemorySpanExporter, Any]]:
    exporter = InMemorySpanExporter()
    outbox = SqliteOutbox(tmp_path / "app.db")
    observe = il.Observe(tracing=True, exporter=exporter)
    async with outbox, il.App([svc], port=0, observe=observe, outboxes=[outbox]) as app:
        yield app, exporter, outbox


def spans_of(app: il.App, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    provider = app.runtime.telemetry.tracer_provider
    assert provider is not None
    assert provider.force_flush()
    return list(exporter.get_finished_spans())


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_an_event_the_outbox_relay_publishes_has_a_send_span_under_its_create_span(
    traced: tuple[il.App, InMemorySpanExporter, Any], tmp_path: Path
) -> None:
    app, exporter, outbox = traced
    _seen.clear()
    async with aiosqlite.connect(tmp_path / "app.db") as conn:
        envelope = await outbox.publish(conn, app.context(), "sends.relayed", {"n": 7})
        await conn.commit()
    app.runtime.relays[0].wake()
    await eventually(lambda: _seen == [7])

    def mine() -> list[ReadableSpan]:
        spans = spans_of(app, exporter)
        return [s for s in spans if attrs(s).get("messaging.message.id") == envelope.id]

    await eventually(lambda: any(s.name == "process sends.relayed" for s in mine()))
    spans = mine()
    create = next(s for s in spans if s.name == "create sends.relayed")
    send = [s for s in spans if s.name == "send sends.relayed"]
    assert len(send) == 1
    assert send[0].kind is SpanKind.CLIENT
    assert send[0].parent is not None
    assert send[0].parent.span_id == create.context.span_id
    assert send[0].context.trace_id == create.context.trace_id
    assert attrs(send[0])["messaging.operation.name"] == "send"
    assert attrs(send[0])["messaging.operation.type"] == "send"
    assert attrs(send[0])["messaging.destination.name"] == "sends.relayed"
    assert attrs(send[0])["messaging.system"] == "memory"
    assert "error.type" not in attrs(send[0])
    process = next(s for s in spans if s.name == "process sends.relayed")
    assert process.parent is not None
    assert process.parent.span_id == create.context.span_id


async def test_a_request_has_a_send_span_from_the_publish_to_the_reply(
    traced: tuple[il.App, InMemorySpanExporter, Any],
) -> None:
    app, exporter, _ = traced
    answer = await app.context().request("sends.asked", {"n": 4}, returns=dict[str, int])
    assert answer == {"twice": 8}
    spans = [s for s in spans_of(app, exporter) if s.name.endswith("sends.asked")]
    create = next(s for s in spans if s.name == "create sends.asked")
    send = next(s for s in spans if s.name == "send sends.asked")
    process = next(s for s in spans if s.name == "process sends.asked")
    assert send.kind is SpanKind.CLIENT
    assert send.parent is not None
    assert send.parent.span_id == create.context.span_id
    assert attrs(send)["messaging.message.id"] == attrs(create)["messaging.message.id"]
    # it lasts until the reply came: the handler's run is inside it
    assert (send.start_time or 0) <= (process.start_time or 0)
    assert (process.end_time or 0) <= (send.end_time or 0)


async def test_a_request_that_times_out_is_a_failed_send_span(
    traced: tuple[il.App, InMemorySpanExporter, Any],
) -> None:
    app, exporter, _ = traced
    with pytest.raises(il.DeadlineExceeded):
        await app.context().request("sends.nobody", {"n": 1}, timeout=0.05)
    send = next(s for s in spans_of(app, exporter) if s.name == "send sends.nobody")
    assert attrs(send)["error.type"] == "DeadlineExceeded"
    assert not send.status.is_ok


async def test_with_everything_off_no_delivery_relay_or_stream_observer_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("INTERLINK_TRACING", "INTERLINK_METRICS", "INTERLINK_RECENT_SPANS"):
        monkeypatch.delenv(name, raising=False)
    async with (
        SqliteOutbox(tmp_path / "off.db") as outbox,
        il.App([svc], port=0, outboxes=[outbox]) as app,
    ):
        assert app.runtime.consumers
        assert all(c._observer is None for c in app.runtime.consumers)
        assert all(relay._observer is None for relay in app.runtime.relays)
        stream = app.stream("sender.nothing", {})
        assert stream._observer is None  # type: ignore[attr-defined]
        await stream.aclose()
