"""The exporters: OTLP over HTTP/protobuf to a loopback collector, and the console; REST
routes are server spans named by their path template."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import interlink as il
from interlink.observe import Observe, Telemetry

svc = il.Service("things")


@svc.rpc
async def ping(req: dict[str, Any]) -> dict[str, Any]:
    return {"pong": True}


@svc.route("GET", "/things/{thing_id}")
async def get_thing(thing_id: str) -> dict[str, str]:
    return {"id": thing_id}


async def test_otlp_sends_the_spans_as_protobuf_to_the_endpoint_when_the_app_stops() -> None:
    received: list[tuple[str, bytes]] = []

    async def collect(request: web.Request) -> web.Response:
        received.append((request.content_type, await request.read()))
        return web.Response(status=200)

    collector = web.Application()
    collector.router.add_post("/v1/traces", collect)
    runner = web.AppRunner(collector)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        endpoint = f"http://127.0.0.1:{port}/v1/traces"
        observe = Observe(tracing=True, exporter="otlp", otlp_endpoint=endpoint)
        async with il.App([svc], port=0, observe=observe) as app:
            await app.call("things.ping", {})
        # Leaving the App shut the batch processor down: it exported what it held.
    finally:
        await runner.cleanup()
    assert received
    assert {content_type for content_type, _ in received} == {"application/x-protobuf"}
    names = set()
    for _, body in received:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}[
                "service.name"
            ]
            assert service == "things"
            for scope in resource_spans.scope_spans:
                names.update(span.name for span in scope.spans)
    assert names == {"POST /rpc/things/ping"}  # the client and the server span share it


def test_console_and_otlp_choose_their_exporters() -> None:
    console = Telemetry(Observe(tracing=True, exporter="console"), ["a"], "memory://")
    assert isinstance(console._exporter(), ConsoleSpanExporter)
    mine = InMemorySpanExporter()
    assert Telemetry(Observe(tracing=True, exporter=mine), ["a"], "memory://")._exporter() is mine
    assert Telemetry(Observe(tracing=True), ["a"], "memory://")._exporter() is None


async def test_a_route_is_a_server_span_named_by_its_path_template() -> None:
    exporter = InMemorySpanExporter()
    observe = Observe(tracing=True, exporter=exporter, metrics=True)
    async with il.App([svc], port=0, observe=observe) as app:
        async with aiohttp.ClientSession() as session, session.get(f"{app.url}/things/7") as r:
            assert r.status == 200
        provider = app.runtime.telemetry.tracer_provider
        assert provider is not None
        assert provider.force_flush()
        exposition = app.runtime.telemetry.exposition()
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /things/{thing_id}"
    assert span.kind is SpanKind.SERVER
    attributes = span.attributes or {}
    assert attributes["http.route"] == "/things/{thing_id}"
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.response.status_code"] == 200
    assert exposition is not None
    assert b'http_route="/things/{thing_id}"' in exposition


async def test_the_console_exporter_writes_each_span_to_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with il.App([svc], port=0, observe=Observe(tracing=True, exporter="console")) as app:
        await app.call("things.ping", {})
    out = capsys.readouterr().out
    assert out.count('"name": "POST /rpc/things/ping"') == 2
