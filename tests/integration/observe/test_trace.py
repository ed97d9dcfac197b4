"""One trace across real hops: an HTTP client → orders (App 1) → payment (App 2, over HTTP)
→ ``orders.placed`` on the broker → notification (App 2), recorded by the SDK's in-memory
exporter and checked span by span: names, kinds, parents, the consumer's link, attributes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import interlink as il
from interlink.broker import MemoryBroker
from interlink.discovery import MemoryRegistry
from tests.conftest import eventually

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


def make_services(noted: list[str]) -> tuple[il.Service, il.Service, il.Service]:
    orders, payment, notification = (
        il.Service("orders"),
        il.Service("payment"),
        il.Service("notification"),
    )

    @payment.rpc
    async def charge(req: dict[str, Any]) -> dict[str, Any]:
        if req["cents"] < 0:
            raise il.ApplicationError("declined", status=402, type="PaymentDeclined")
        return {"payment_id": "pay-1"}

    @orders.rpc
    async def place(req: dict[str, Any], ctx: il.Context) -> dict[str, Any]:
        paid = await ctx.call("payment.charge", {"cents": req["cents"]})
        await ctx.publish("orders.placed", {"order_id": "o-1", **paid}, key="o-1")
        return {"order_id": "o-1"}

    @notification.subscribe("orders.placed", group="notification")
    async def on_placed(evt: dict[str, Any]) -> None:
        noted.append(evt["order_id"])

    return orders, payment, notification


@dataclass
class Shop:
    front: il.App
    back: il.App
    exporter: InMemorySpanExporter
    noted: list[str]

    def spans(self) -> tuple[ReadableSpan, ...]:
        """Everything finished so far, exported now (the batch processor exports later)."""
        for app in (self.front, self.back):
            provider = app.runtime.telemetry.tracer_provider
            assert provider is not None
            assert provider.force_flush()
        return self.exporter.get_finished_spans()


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    noted: list[str] = []
    orders, payment, notification = make_services(noted)
    registry, broker = MemoryRegistry(), MemoryBroker()
    exporter = InMemorySpanExporter()
    observe = il.Observe(tracing=True, exporter=exporter)
    back = il.App(
        [payment, notification], registry=registry, broker=broker, port=0, observe=observe
    )
    front = il.App([orders], registry=registry, broker=broker, port=0, observe=observe)
    async with back, front:
        yield Shop(front, back, exporter, noted)


def spans_by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    """By name; a server span sharing its client's name is ``… (server)``."""
    found: dict[str, ReadableSpan] = {}
    for span in spans:
        name = span.name if span.kind is not SpanKind.SERVER else f"{span.name} (server)"
        if span.kind is SpanKind.SERVER and span.name.startswith("POST /rpc/orders/"):
            name = span.name  # the front door: no client span of ours shares its name
        assert name not in found, f"two spans named {name}"
        found[name] = span
    return found


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def ident(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


async def place(url: str, headers: dict[str, str], cents: int = 100) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/rpc/orders/place", json={"cents": cents}, headers=headers) as r,
    ):
        await r.read()
        return r.status


async def test_one_trace_connects_http_in_a_call_out_an_event_and_its_consumer(
    shop: Shop,
) -> None:
    status = await place(shop.front.url, {"traceparent": f"00-{TRACE}-{CLIENT_SPAN}-01"})
    assert status == 200
    await eventually(lambda: bool(shop.noted))
    await eventually(lambda: any(s.name.startswith("process") for s in shop.spans()))
    finished = shop.spans()
    spans = spans_by_name(finished)
    server = spans["POST /rpc/orders/place"]
    client = spans["POST /rpc/payment/charge"]
    create = spans["create orders.placed"]
    send = spans["send orders.placed"]
    process = spans["process orders.placed"]
    charge_server = spans["POST /rpc/payment/charge (server)"]

    assert {s.context.trace_id for s in finished if s.context} == {int(TRACE, 16)}
    assert server.kind is SpanKind.SERVER
    assert parent_of(server) == int(CLIENT_SPAN, 16)  # continues the HTTP client's context
    assert server.parent is not None
    assert server.parent.is_remote
    assert client.kind is SpanKind.CLIENT
    assert parent_of(client) == ident(server)
    assert parent_of(charge_server) == ident(client)  # across the HTTP hop between Apps
    assert create.kind is SpanKind.PRODUCER
    assert parent_of(create) == ident(server)
    assert send.kind is SpanKind.CLIENT
    assert parent_of(send) == ident(create)
    assert process.kind is SpanKind.CONSUMER
    assert parent_of(process) == ident(create)
    assert [link.context.span_id for link in process.links] == [ident(create)]
    assert process.status.status_code is StatusCode.UNSET

    attributes = server.attributes or {}
    assert attributes["http.request.method"] == "POST"
    assert attributes["http.route"] == "/rpc/orders/place"
    assert attributes["http.response.status_code"] == 200
    assert attributes["interlink.service"] == "orders"
    attributes = client.attributes or {}
    assert attributes["http.request.method"] == "POST"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == int(shop.back.url.rsplit(":", 1)[1])
    assert attributes["url.full"] == f"{shop.back.url}/rpc/payment/charge"
    assert attributes["http.response.status_code"] == 200
    assert "http.request.resend_count" not in attributes
    attributes = process.attributes or {}
    assert attributes["messaging.system"] == "memory"
    assert attributes["messaging.operation.name"] == "process"
    assert attributes["messaging.destination.name"] == "orders.placed"
    assert attributes["messaging.consumer.group.name"] == "notification"
    assert attributes["messaging.message.id"] == (create.attributes or {})["messaging.message.id"]
    assert "messaging.message.conversation_id" in attributes
    assert (send.attributes or {})["messaging.operation.name"] == "send"
