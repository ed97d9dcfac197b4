"""``GET /metrics`` scraped over HTTP after real calls and messages, parsed with the
Prometheus text parser: the names, types and labels of the contract, and the counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import interlink as il
from interlink.broker import MemoryBroker
from interlink.discovery import MemoryRegistry
from tests.conftest import eventually


def make_services(handled: list[str]) -> tuple[il.Service, il.Service]:
    front, back = il.Service("front"), il.Service("back")

    @back.rpc
    async def work(req: dict[str, Any]) -> dict[str, Any]:
        if req.get("fail"):
            raise il.ApplicationError("broken", status=503, type="Broken")
        return {"ok": True}

    @front.rpc
    async def go(req: dict[str, Any], ctx: il.Context) -> dict[str, Any]:
        result = await ctx.call("back.work", req, policy=il.Policy())
        await ctx.publish("jobs.done", {"n": 1})
        return result

    @back.subscribe("jobs.done", group="audit")
    async def on_done(evt: dict[str, Any]) -> None:
        handled.append("done")

    return front, back


@pytest.fixture
async def apps() -> AsyncIterator[tuple[il.App, il.App, list[str]]]:
    handled: list[str] = []
    front, back = make_services(handled)
    registry, broker = MemoryRegistry(), MemoryBroker()
    observe = il.Observe(metrics=True)
    back_app = il.App([back], registry=registry, broker=broker, port=0, observe=observe)
    front_app = il.App([front], registry=registry, broker=broker, port=0, observe=observe)
    async with back_app, front_app:
        yield front_app, back_app, handled


async def scrape(url: str) -> dict[str, list[Sample]]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as r:
        assert r.status == 200
        assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await r.text()
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = list(family.samples)
    return families


def count(samples: list[Sample], suffix: str = "_count", **labels: str) -> float:
    return sum(
        s.value
        for s in samples
        if s.name.endswith(suffix) and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def call(url: str, body: dict[str, Any]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/rpc/front/go", json=body) as r,
    ):
        await r.read()
        return r.status


async def test_call_and_message_metrics_are_scraped_with_their_names_and_labels(
    apps: tuple[il.App, il.App, list[str]],
) -> None:
    front, back, handled = apps
    assert await call(front.url, {}) == 200
    assert await call(front.url, {}) == 200
    assert await call(front.url, {"fail": True}) == 500  # its caller re-raised
    await eventually(lambda: len(handled) == 2)
    port = back.url.rsplit(":", 1)[1]

    mine = await scrape(front.url)
    server = mine["http_server_request_duration_seconds"]
    assert count(server, http_route="/rpc/front/go", http_response_status_code="200") == 2
    ok = {
        "http_request_method": "POST",
        "server_address": "127.0.0.1",
        "server_port": port,
        "interlink_target": "back.work",
    }
    client = mine["http_client_request_duration_seconds"]
    assert count(client, http_response_status_code="200", error_type="", **ok) == 2
    assert count(client, http_response_status_code="503", **ok) == 1
    failed = [s for s in client if s.labels.get("http_response_status_code") == "503"]
    assert {s.labels["error_type"] for s in failed} == {"RemoteError"}
    sent = mine["messaging_client_sent_messages"]
    assert count(sent, "_total", messaging_destination_name="jobs.done") == 2
    operation = mine["messaging_client_operation_duration_seconds"]
    assert (
        count(
            operation,
            messaging_system="memory",
            messaging_operation_name="send",
            messaging_destination_name="jobs.done",
        )
        == 2
    )

    theirs = await scrape(back.url)
    server = theirs["http_server_request_duration_seconds"]
    labels = {"http_request_method": "POST", "http_route": "/rpc/back/work"}
    assert count(server, interlink_service="back", http_response_status_code="200", **labels) == 2
    assert count(server, error_type="Broken", http_response_status_code="503", **labels) == 1
    group = {"messaging_destination_name": "jobs.done", "messaging_consumer_group_name": "audit"}

    async def processed() -> bool:  # the handler returns before its run is recorded
        nonlocal theirs
        theirs = await scrape(back.url)
        return count(theirs["messaging_process_duration_seconds"], **group) == 2

    await eventually(processed)
    assert (
        count(theirs["messaging_process_duration_seconds"], messaging_system="memory", **group) == 2
    )
    assert count(theirs["messaging_client_consumed_messages"], "_total", **group) == 2
    assert count(theirs["interlink_event_end_to_end_latency_seconds"], **group) == 2


async def test_each_app_has_a_registry_of_its_own(
    apps: tuple[il.App, il.App, list[str]],
) -> None:
    front, back, _ = apps
    assert front.runtime.telemetry.registry is not back.runtime.telemetry.registry
    assert await call(front.url, {}) == 200
    theirs = await scrape(back.url)
    assert count(theirs["http_client_request_duration_seconds"]) == 0
