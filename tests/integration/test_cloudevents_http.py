"""CloudEvents 1.0 on a running App, both ways: the HTTP binding in binary and structured mode,
the JSON format on the broker, and round trips with the official ``cloudevents`` SDK."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import pytest
import uvicorn
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import interlink as il
from interlink._envelope import parse_time
from interlink._envelope_http import to_headers
from interlink.broker import MemoryBroker
from tests.conftest import eventually

TRACEPARENT = "00-12345678901234567890123456789012-1234567890123456-01"


class Order(BaseModel):
    order_id: str
    qty: int


ce = il.Service("ce")
received: list[dict[str, Any]] = []


@ce.rpc(idempotent=True)
async def take(req: Order, ctx: il.Context) -> dict[str, Any]:
    return {
        "order": req.model_dump(),
        "headers": dict(ctx.headers),
        "trace_id": ctx.traceparent[3:35] if ctx.traceparent else None,
    }


@ce.route("GET", "/ce/ping")
async def ping() -> str:
    return "pong"


@ce.subscribe("orders.taken")
async def on_taken(evt: Order, ctx: il.Context) -> None:
    received.append({"order": evt.model_dump(), "headers": dict(ctx.headers)})


@dataclass
class Http:
    url: str
    session: aiohttp.ClientSession
    broker: MemoryBroker

    async def post(self, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        headers = {"content-type": "application/json", **headers}
        async with self.session.post(f"{self.url}/rpc/ce/take", data=body, headers=headers) as r:
            return r.status, await r.json()


@pytest.fixture
async def http() -> AsyncIterator[Http]:
    broker = MemoryBroker()
    async with il.App([ce], port=0, broker=broker) as app, aiohttp.ClientSession() as session:
        yield Http(app.url, session, broker)


ORDER = b'{"order_id": "o-1", "qty": 2}'


# -- binary mode in ----------------------------------------------------------------------------


async def test_binary_mode_values_are_percent_decoded(http: Http) -> None:
    status, body = await http.post(
        {
            "content-type": "application/json",
            "ce-specversion": "1.0",
            "ce-id": "e-1",
            "ce-source": "/tests",
            "ce-type": "ce.take",
            "ce-subject": "Euro%20%E2%82%AC%20%F0%9F%98%80",
            "ce-correlationid": '"quoted corr"',
        },
        ORDER,
    )
    assert status == 200, body
    assert body["headers"]["subject"] == "Euro € 😀"
    assert body["headers"]["correlationid"] == "quoted corr"
    assert body["headers"]["id"] == "e-1"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"ce-specversion": "0.3", "ce-id": "1", "ce-source": "/s", "ce-type": "t"}, "0.3"),
        ({"ce-specversion": "1.0", "ce-source": "/s", "ce-type": "t"}, "needs ce-id"),
        ({"ce-subject": "%C0%A0"}, "not UTF-8"),
        ({"ce-subject": "100%"}, "%XX escape"),
        ({"ce-my_ext": "1"}, "lowercase letters and digits"),
        ({"ce-datacontenttype": "application/json"}, "Content-Type"),
        ({"ce-time": "2030-01-01"}, "RFC 3339"),
    ],
)
async def test_an_invalid_cloudevent_is_a_clear_400(
    http: Http, headers: dict[str, str], message: str
) -> None:
    status, body = await http.post(headers, ORDER)
    assert status == 400
    assert body["error"]["type"] == "BadRequest"
    assert message in body["error"]["message"]
    assert "retryable" not in body["error"]


async def test_raw_non_ascii_in_an_attribute_is_a_400(http: Http) -> None:
    # aiohttp sends str headers as latin-1 bytes; "é" arrives as the byte 0xE9.
    status, body = await http.post({"ce-subject": "caf\u00e9"}, ORDER)
    assert status == 400
    assert "percent-encoded" in body["error"]["message"]


@pytest.mark.parametrize(
    "deadline",
    ["2030-01-01", "2030-W01-1", "2030-01-01T00:00:00", "2030-01-01 00:00:00Z", "soon"],
)
async def test_a_bad_deadline_is_a_400_that_is_never_retryable(http: Http, deadline: str) -> None:
    # ``take`` is idempotent: its failures are retryable, but a bad request never is.
    status, body = await http.post({"ce-deadline": deadline}, ORDER)
    assert status == 400
    assert "RFC 3339" in body["error"]["message"]
    assert "retryable" not in body["error"]


async def test_an_invalid_body_is_not_retryable_either(http: Http) -> None:
    status, body = await http.post({}, b'{"order_id": 1}')
    assert status == 422
    assert "retryable" not in body["error"]


async def test_a_rest_route_refuses_an_invalid_cloudevent_with_400(http: Http) -> None:
    async with http.session.get(
        f"{http.url}/ce/ping",
        headers={"ce-specversion": "0.3", "ce-id": "1", "ce-source": "/s", "ce-type": "t"},
    ) as response:
        assert response.status == 400
        assert "0.3" in (await response.json())["error"]["message"]


# -- structured mode in ------------------------------------------------------------------------


def structured(**attrs: Any) -> bytes:
    event = {"specversion": "1.0", "id": "s-1", "source": "/tests", "type": "ce.take", **attrs}
    return msgspec.json.encode(event)


async def test_structured_mode_data_is_the_rpc_body(http: Http) -> None:
    body = structured(data={"order_id": "o-9", "qty": 3}, subject="s", traceparent=TRACEPARENT)
    status, result = await http.post(
        {"content-type": "application/cloudevents+json; charset=utf-8"}, body
    )
    assert status == 200, result
    assert result["order"] == {"order_id": "o-9", "qty": 3}
    assert (result["headers"]["id"], result["headers"]["subject"]) == ("s-1", "s")
    assert result["trace_id"] == TRACEPARENT[3:35]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (structured(specversion="0.3", data={}), "0.3"),
        (structured(Bad=1, data={}), "'Bad'"),
        (b"{not json", "not a CloudEvents envelope"),
    ],
)
async def test_an_invalid_structured_event_is_a_400(http: Http, body: bytes, message: str) -> None:
    status, result = await http.post({"content-type": "application/cloudevents+json"}, body)
    assert status == 400
    assert message in result["error"]["message"]


async def test_structured_mode_with_invalid_data_is_422(http: Http) -> None:
    status, result = await http.post(
        {"content-type": "application/cloudevents+json"}, structured(data={"order_id": "o"})
    )
    assert status == 422
    assert result["error"]["type"] == "ValidationError"


# -- round trips with the official SDK ---------------------------------------------------------


def sdk_event(**extra: Any) -> CloudEvent:
    return CloudEvent(
        {
            "type": "ce.take",
            "source": "/sdk",
            "id": "sdk-1",
            "subject": "Grüße, 100% sure",
            "time": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
            "correlationid": "corr 1",
            "datacontenttype": "application/json",
            **extra,
        },
        {"order_id": "o-7", "qty": 1},
    )


@pytest.mark.parametrize("mode", ["binary", "structured"])
async def test_events_built_by_the_sdk_are_accepted(http: Http, mode: str) -> None:
    event = sdk_event(traceparent=TRACEPARENT)
    message = (ce_http.to_binary_event if mode == "binary" else ce_http.to_structured_event)(event)
    status, result = await http.post(message.headers, message.body)
    assert status == 200, result
    assert result["order"] == {"order_id": "o-7", "qty": 1}
    headers = result["headers"]
    assert (headers["id"], headers["source"], headers["type"]) == ("sdk-1", "/sdk", "ce.take")
    assert headers["subject"] == "Grüße, 100% sure"
    assert headers["correlationid"] == "corr 1"
    assert headers["time"] == "2030-01-02T03:04:05Z"
    assert result["trace_id"] == TRACEPARENT[3:35]


def test_interlink_http_headers_parse_with_the_sdk() -> None:
    envelope = il.Envelope(
        id="e-1",
        source="/orders",
        type="ce.take",
        specversion="1.0",
        time="2030-01-02T03:04:05.678Z",
        subject='Grüße "quoted" 100%',
        traceparent=TRACEPARENT,
        tracestate="rojo=1",
        correlationid="corr 1",
        causationid="c-0",
        partitionkey="k ü",
        deadline="2030-01-02T03:05:00.000Z",
        data=msgspec.Raw(b'{"order_id":"o-1","qty":2}'),
    )
    message = ce_http.HTTPMessage(headers=to_headers(envelope), body=bytes(envelope.data))
    event = ce_http.from_http_event(message)
    attributes = event.get_attributes()
    assert attributes.pop("time") == datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert attributes == {
        "id": "e-1",
        "source": "/orders",
        "type": "ce.take",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "subject": 'Grüße "quoted" 100%',
        "correlationid": "corr 1",
        "causationid": "c-0",
        "partitionkey": "k ü",
        "deadline": "2030-01-02T03:05:00.000Z",
    }
    assert event.get_data() == {"order_id": "o-1", "qty": 2}
    # The trace travels in the W3C headers (the SDK reads ce-* headers only).
    assert (message.headers["traceparent"], message.headers["tracestate"]) == (
        TRACEPARENT,
        "rojo=1",
    )


@pytest.fixture
async def sink() -> AsyncIterator[tuple[int, list[ce_http.HTTPMessage]]]:
    """A bare Starlette server on a free port that keeps every request it gets."""
    seen: list[ce_http.HTTPMessage] = []

    async def keep(request: Request) -> Response:
        seen.append(ce_http.HTTPMessage(headers=dict(request.headers), body=await request.body()))
        return Response(b"{}", media_type="application/json")

    app = Starlette(routes=[Route("/rpc/sink/take", keep, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    sock = socket.create_server(("127.0.0.1", 0))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started)
    yield sock.getsockname()[1], seen
    server.should_exit = True
    await task
    sock.close()


async def test_interlink_calls_send_headers_the_sdk_parses(
    sink: tuple[int, list[ce_http.HTTPMessage]],
) -> None:
    port, seen = sink
    front = il.Service("front")

    @front.rpc
    async def relay(req: dict[str, Any], ctx: il.Context) -> Any:
        return await ctx.call("sink.take", {"order_id": "o-1", "qty": 2})

    app = il.App([front], registry=f"static:sink=127.0.0.1:{port}", serve_http=False)
    async with app:
        ctx = app.context()
        ctx.correlation_id = "corr ü 100%"
        await ctx.call("front.relay", {})
    [message] = seen
    event = ce_http.from_http_event(message)
    attributes = event.get_attributes()
    deadline = attributes.pop("deadline")
    assert attributes == {
        "id": attributes["id"],
        "source": "/front",
        "type": "sink.take",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "correlationid": "corr ü 100%",
        "causationid": attributes["causationid"],
        "time": attributes["time"],  # the SDK fills in a time when there is none
    }
    assert parse_time(deadline) > 0
    assert event.get_data() == {"order_id": "o-1", "qty": 2}
    assert message.headers["traceparent"][3:35] == ctx.traceparent[3:35]


# -- the broker --------------------------------------------------------------------------------


async def test_broker_envelopes_parse_with_the_sdk(http: Http) -> None:
    async with il.App([il.Service("pub")], broker=http.broker, serve_http=False) as app:
        ctx = app.context()
        await ctx.publish("orders.taken", Order(order_id="o-3", qty=1), key="key ü")
    [stored] = http.broker.messages("orders.taken")
    envelope = il.Envelope.from_bytes(stored.body)
    event = JSONFormat().read(None, stored.body)
    attributes = event.get_attributes()
    assert attributes.pop("time") == datetime.fromisoformat(envelope.time or "")
    on_the_wire = msgspec.json.decode(stored.body)
    assert attributes == {k: v for k, v in on_the_wire.items() if k not in ("data", "time")}
    assert attributes["partitionkey"] == "key ü"
    assert attributes["traceparent"][3:35] == ctx.traceparent[3:35]
    assert event.get_data() == {"order_id": "o-3", "qty": 1}


async def test_sdk_events_on_the_broker_reach_a_subscriber(http: Http) -> None:
    received.clear()
    event = CloudEvent(
        {"type": "orders.taken", "source": "/sdk", "id": "sdk-2", "partitionkey": "k"},
        {"order_id": "o-4", "qty": 5},
    )
    await http.broker.publish("orders.taken", JSONFormat().write(event), key="k", message_id="x")
    await eventually(lambda: bool(received))
    assert received[0]["order"] == {"order_id": "o-4", "qty": 5}
    assert received[0]["headers"]["id"] == "sdk-2"


async def test_a_broker_event_with_an_invalid_attribute_name_is_dead_lettered(
    http: Http,
) -> None:
    received.clear()
    body = structured(type="orders.taken", Bad="x", data={"order_id": "o", "qty": 1})
    await http.broker.publish("orders.taken", body, key=None, message_id="bad-1")
    await eventually(lambda: bool(http.broker.messages("orders.taken.dlq")))
    assert received == []
