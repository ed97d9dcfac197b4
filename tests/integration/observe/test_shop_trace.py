"""The reference shop, traced: an HTTP client → ``orders.place`` → the checkout saga's steps →
``payment.charge`` in another App over HTTP → ``orders.placed`` → notification on the broker.
One trace, every parent and the consumer's link asserted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from examples.shop import app as shop
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import interlink as il
from interlink.broker import MemoryBroker
from interlink.discovery import MemoryRegistry
from tests.conftest import eventually


@pytest.fixture
async def apps() -> AsyncIterator[tuple[il.App, il.App, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    observe = il.Observe(tracing=True, exporter=exporter)
    common = {"registry": MemoryRegistry(), "broker": MemoryBroker(), "port": 0, "observe": observe}
    rest = [name for name in shop.services if name != "payment"]
    front = shop.replace(only=rest, **common)
    back = shop.replace(only=["payment"], sagas=(), **common)
    async with back, front:
        yield front, back, exporter


def flushed(exporter: InMemorySpanExporter, *apps: il.App) -> tuple[ReadableSpan, ...]:
    for app in apps:
        provider = app.runtime.telemetry.tracer_provider
        assert provider is not None
        assert provider.force_flush()
    return exporter.get_finished_spans()


def one(spans: tuple[ReadableSpan, ...], name: str, kind: SpanKind) -> ReadableSpan:
    (span,) = [s for s in spans if s.name == name and s.kind is kind]
    return span


def is_child(child: ReadableSpan, parent: ReadableSpan) -> bool:
    assert parent.context is not None
    return child.parent is not None and child.parent.span_id == parent.context.span_id


async def test_an_order_is_one_trace_from_the_http_call_to_the_notification(
    apps: tuple[il.App, il.App, InMemorySpanExporter],
) -> None:
    front, back, exporter = apps
    body = {"customer": "ada", "sku": "pear", "qty": 1}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{front.url}/rpc/orders/place", json=body) as r,
    ):
        assert r.status == 200, await r.text()

    def notified() -> bool:
        spans = flushed(exporter, front, back)
        return any(
            s.name == "process orders.placed"
            and (s.attributes or {}).get("messaging.consumer.group.name") == "notification"
            for s in spans
        )

    await eventually(notified)
    spans = flushed(exporter, front, back)
    place = one(spans, "POST /rpc/orders/place", SpanKind.SERVER)
    assert place.parent is None  # the HTTP client sent no traceparent: the trace starts here
    step = one(spans, "saga checkout.charge_payment", SpanKind.INTERNAL)
    call = one(spans, "POST /rpc/payment/charge", SpanKind.CLIENT)
    charged = one(spans, "POST /rpc/payment/charge", SpanKind.SERVER)
    create = one(spans, "create orders.placed", SpanKind.PRODUCER)
    (process,) = [
        s
        for s in spans
        if s.name == "process orders.placed"
        and (s.attributes or {}).get("messaging.consumer.group.name") == "notification"
    ]
    assert place.context is not None
    assert {s.context.trace_id for s in spans if s.context} == {place.context.trace_id}
    assert is_child(step, place)
    assert (step.attributes or {})["interlink.saga.step"] == "charge_payment"
    assert is_child(call, step)
    assert (call.attributes or {})["server.port"] == int(back.url.rsplit(":", 1)[1])
    assert is_child(charged, call)
    assert (charged.attributes or {})["interlink.service"] == "payment"
    assert is_child(create, place)
    assert is_child(process, create)
    assert create.context is not None
    assert [link.context.span_id for link in process.links] == [create.context.span_id]
    assert (process.attributes or {})["messaging.destination.name"] == "orders.placed"
