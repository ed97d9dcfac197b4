"""A call the socket transport carries says so on its spans: RPC attributes, the network
transport, and none of HTTP's; the same call over HTTP keeps its HTTP attributes."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import interlink as il
from interlink.discovery import MemoryRegistry

svc = il.Service("sockback")


@svc.rpc
async def echo(req: dict[str, int]) -> dict[str, int]:
    return req


@svc.rpc
async def boom(req: dict[str, int]) -> dict[str, int]:
    raise RuntimeError("no")


HTTP_KEYS = {
    "http.request.method",
    "http.route",
    "url.path",
    "url.full",
    "http.response.status_code",
}


def finished(*pairs: tuple[il.App, InMemorySpanExporter]) -> list[ReadableSpan]:
    spans: list[ReadableSpan] = []
    for app, exporter in pairs:
        provider = app.runtime.telemetry.tracer_provider
        assert provider is not None
        assert provider.force_flush()
        spans += exporter.get_finished_spans()
    return spans


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def observe(exporter: InMemorySpanExporter) -> il.Observe:
    return il.Observe(tracing=True, exporter=exporter)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[tuple[il.App, InMemorySpanExporter], ...]]:
    registry = MemoryRegistry()
    served, calling = InMemorySpanExporter(), InMemorySpanExporter()
    async with (
        il.App([svc], registry=registry, port=0, socket=True, observe=observe(served)) as server,
        il.App([], registry=registry, serve_http=False, observe=observe(calling)) as caller,
    ):
        yield (server, served), (caller, calling)


async def test_a_socket_call_is_an_rpc_span_pair_without_http_attributes(
    pair: tuple[tuple[il.App, InMemorySpanExporter], ...],
) -> None:
    (server, served), (caller, calling) = pair
    assert await caller.call("sockback.echo", {"x": 1}) == {"x": 1}
    (client,) = [s for s in finished((caller, calling)) if s.kind is SpanKind.CLIENT]
    (serving,) = [s for s in finished((server, served)) if s.kind is SpanKind.SERVER]
    assert client.name == "sockback/echo"
    assert serving.name == "sockback/echo"
    assert serving.parent is not None
    assert serving.parent.span_id == client.context.span_id
    socket_url = server.socket_url
    assert socket_url is not None
    port = int(socket_url.rsplit(":", 1)[1])
    assert attrs(client) == {
        "rpc.system": "interlink",
        "rpc.service": "sockback",
        "rpc.method": "echo",
        "network.transport": "tcp",
        "network.protocol.name": "interlink",
        "server.address": "127.0.0.1",
        "server.port": port,
        "interlink.status_code": 200,
        "interlink.service": "client",
    }
    assert attrs(serving) == {
        "rpc.system": "interlink",
        "rpc.service": "sockback",
        "rpc.method": "echo",
        "network.transport": "tcp",
        "network.protocol.name": "interlink",
        "interlink.status_code": 200,
        "interlink.service": "sockback",
    }


async def test_a_failed_socket_call_has_its_error_type_and_no_http_attributes(
    pair: tuple[tuple[il.App, InMemorySpanExporter], ...],
) -> None:
    (server, served), (caller, calling) = pair
    with pytest.raises(il.RemoteError):
        await caller.call("sockback.boom", {})
    spans = finished((caller, calling), (server, served))
    client = next(s for s in spans if s.kind is SpanKind.CLIENT)
    serving = next(s for s in spans if s.kind is SpanKind.SERVER)
    for span in (client, serving):
        assert span.name == "sockback/boom"
        assert not HTTP_KEYS & set(attrs(span))
        assert attrs(span)["interlink.status_code"] == 500
        assert not span.status.is_ok
    assert attrs(client)["error.type"] == "RemoteError"


async def test_the_same_call_over_http_keeps_the_http_attributes(
    pair: tuple[tuple[il.App, InMemorySpanExporter], ...],
) -> None:
    (server, served), _ = pair
    exporter = InMemorySpanExporter()
    async with il.App(
        [],
        registry=server.registry,
        serve_http=False,
        transports={"sockback": "http"},
        observe=observe(exporter),
    ) as over_http:
        assert await over_http.call("sockback.echo", {"x": 2}) == {"x": 2}
        (client,) = [s for s in finished((over_http, exporter)) if s.kind is SpanKind.CLIENT]
    (serving,) = [s for s in finished((server, served)) if s.kind is SpanKind.SERVER]
    assert client.name == serving.name == "POST /rpc/sockback/echo"
    assert attrs(client)["url.path"] == "/rpc/sockback/echo"
    assert attrs(client)["http.response.status_code"] == 200
    assert attrs(serving)["http.route"] == "/rpc/sockback/echo"
    for span in (client, serving):
        assert not {k for k in attrs(span) if k.startswith(("rpc.", "network."))}


async def test_a_unix_socket_call_says_unix_and_names_no_server_address() -> None:
    registry = MemoryRegistry()
    served, calling = InMemorySpanExporter(), InMemorySpanExporter()
    with tempfile.TemporaryDirectory() as directory:
        url = f"unix://{directory}/s.sock"
        async with (
            il.App(
                [svc], registry=registry, serve_http=False, socket=url, observe=observe(served)
            ) as server,
            il.App([], registry=registry, serve_http=False, observe=observe(calling)) as caller,
        ):
            assert await caller.call("sockback.echo", {"x": 3}) == {"x": 3}
            spans = finished((caller, calling), (server, served))
    client = next(s for s in spans if s.kind is SpanKind.CLIENT)
    serving = next(s for s in spans if s.kind is SpanKind.SERVER)
    assert attrs(client)["network.transport"] == "unix"
    assert attrs(serving)["network.transport"] == "unix"
    assert "server.address" not in attrs(client)
