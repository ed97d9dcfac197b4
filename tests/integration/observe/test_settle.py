"""receive and settle spans of a subscriber's deliveries, on the in-memory broker and on a real
NATS server (where a nack is JetStream's ``nak``): names, kinds, parents, links, attributes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import interlink as il
from tests.conftest import NatsServer, eventually

svc = il.Service("settler")
_runs: dict[str, int] = {}
_hold = asyncio.Event()
_held: list[str] = []


@svc.subscribe("settle.ok", group="g-ok", retry=il.Retry(attempts=2, on=Exception))
async def ok(evt: dict[str, Any]) -> None:
    _runs[evt["id"]] = _runs.get(evt["id"], 0) + 1
    if evt.get("fail_once") and _runs[evt["id"]] == 1:
        raise ValueError("once")


@svc.subscribe("settle.bad", group="g-bad", retry=il.Retry(attempts=1, on=Exception))
async def bad(evt: dict[str, Any]) -> None:
    raise ValueError("never")


hold = il.Service("holder")


@hold.subscribe("settle.hold", group="g-hold")
async def holding(evt: dict[str, Any]) -> None:
    _held.append(evt["id"])
    await _hold.wait()


@pytest.fixture(params=["memory", "nats"])
def broker(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    server: NatsServer = request.getfixturevalue("nats_server")
    return server.url


@pytest.fixture
async def traced(broker: str) -> AsyncIterator[tuple[il.App, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    observe = il.Observe(tracing=True, exporter=exporter)
    async with il.App([svc], broker=broker, port=0, observe=observe) as app:
        yield app, exporter


def spans_of(app: il.App, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    provider = app.runtime.telemetry.tracer_provider
    assert provider is not None
    assert provider.force_flush()
    return list(exporter.get_finished_spans())


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def of_message(spans: list[ReadableSpan], message_id: str) -> list[ReadableSpan]:
    return [s for s in spans if attrs(s).get("messaging.message.id") == message_id]


async def test_a_handled_message_is_received_processed_and_acked_in_the_producers_trace(
    traced: tuple[il.App, InMemorySpanExporter], broker: str
) -> None:
    app, exporter = traced
    await app.publish("settle.ok", {"id": broker, "fail_once": True})
    create = await _one(app, exporter, "create settle.ok")
    message_id = attrs(create)["messaging.message.id"]

    def acked() -> bool:
        return any(
            s.name == "ack settle.ok" for s in of_message(spans_of(app, exporter), message_id)
        )

    await eventually(acked)
    spans = of_message(spans_of(app, exporter), message_id)
    names = sorted(s.name for s in spans if s.name != "send settle.ok")
    assert names == [
        "ack settle.ok",
        "create settle.ok",
        "process settle.ok",
        "process settle.ok",
        "receive settle.ok",
    ]
    system = "memory" if broker == "memory://" else "nats"
    producer = create.context
    for span in spans:
        if span.name.startswith(("receive", "ack")):
            assert span.kind is SpanKind.CLIENT
            assert span.parent is not None
            assert span.parent.span_id == producer.span_id
            assert span.context.trace_id == producer.trace_id
            assert [(link.context.trace_id, link.context.span_id) for link in span.links] == [
                (producer.trace_id, producer.span_id)
            ]
            assert attrs(span)["messaging.system"] == system
            assert attrs(span)["messaging.destination.name"] == "settle.ok"
            assert attrs(span)["messaging.consumer.group.name"] == "g-ok"
            assert attrs(span)["messaging.message.conversation_id"]
    receive = next(s for s in spans if s.name.startswith("receive"))
    ack = next(s for s in spans if s.name.startswith("ack"))
    assert attrs(receive)["messaging.operation.name"] == "receive"
    assert attrs(receive)["messaging.operation.type"] == "receive"
    assert attrs(receive)["messaging.message.delivery_attempt"] == 1
    assert attrs(ack)["messaging.operation.name"] == "ack"
    assert attrs(ack)["messaging.operation.type"] == "settle"
    assert attrs(ack)["interlink.settle"] == "ack"
    # taken before it was processed, settled after the last run
    runs = [s for s in spans if s.name.startswith("process")]
    assert receive.end_time is not None
    assert ack.start_time is not None
    assert all(receive.end_time <= (r.start_time or 0) for r in runs)
    assert all((r.end_time or 0) <= ack.start_time for r in runs)
    # what the consumer kept for the settle span is gone once it is settled
    assert all(not consumer._decoded for consumer in app.runtime.consumers)


async def test_a_dead_lettered_message_is_settled_with_term(
    traced: tuple[il.App, InMemorySpanExporter], broker: str
) -> None:
    app, exporter = traced
    await app.publish("settle.bad", {"id": "b"})
    create = await _one(app, exporter, "create settle.bad")
    message_id = attrs(create)["messaging.message.id"]

    def termed() -> bool:
        spans = of_message(spans_of(app, exporter), message_id)
        return any(s.name == "term settle.bad" for s in spans)

    await eventually(termed)
    spans = of_message(spans_of(app, exporter), message_id)
    term = next(s for s in spans if s.name == "term settle.bad")
    dead = next(s for s in spans if s.name == "dead_letter settle.bad")
    assert term.kind is SpanKind.CLIENT
    assert attrs(term)["messaging.operation.type"] == "settle"
    assert attrs(term)["interlink.settle"] == "term"
    assert not any(s.name.startswith("ack") for s in spans)
    assert (dead.end_time or 0) <= (term.start_time or 0)


async def test_a_delivery_handed_back_at_stop_is_a_nack_named_as_the_broker_names_it(
    broker: str,
) -> None:
    exporter = InMemorySpanExporter()
    observe = il.Observe(tracing=True, exporter=exporter)
    _hold.clear()
    _held.clear()
    app = il.App([hold], broker=broker, port=0, observe=observe, drain_timeout=0.2)
    async with app:
        await app.publish("settle.hold", {"id": "h"})
        await eventually(lambda: bool(_held))
    # leaving the App cancelled the held run and exported the spans left
    spans = [s for s in exporter.get_finished_spans() if s.name.endswith("settle.hold")]
    nack = [s for s in spans if attrs(s).get("interlink.settle") == "nack"]
    assert len(nack) == 1
    expected = "nack" if broker == "memory://" else "nak"
    assert nack[0].name == f"{expected} settle.hold"
    assert attrs(nack[0])["messaging.operation.name"] == expected
    assert attrs(nack[0])["messaging.operation.type"] == "settle"
    assert attrs(nack[0])["interlink.settle.delay_ms"] == 0
    assert nack[0].kind is SpanKind.CLIENT
    assert not any(s.name.startswith(("ack", "term")) for s in spans)


async def _one(app: il.App, exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    await eventually(lambda: any(s.name == name for s in spans_of(app, exporter)))
    return next(s for s in spans_of(app, exporter) if s.name == name)
