"""What the metrics table promises for calls that never reached a server and for failed
handler runs: scraped over HTTP and parsed, as a Prometheus server would."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import interlink as il
from interlink.resilience import Backoff, BreakerState
from tests.conftest import eventually

FAST = Backoff.constant(0.01)


async def scrape(url: str) -> dict[str, list[Sample]]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as r:
        text = await r.text()
    return {f.name: list(f.samples) for f in text_string_to_metric_families(text)}


def count(samples: list[Sample], suffix: str = "_count", **labels: str) -> float:
    return sum(
        s.value
        for s in samples
        if s.name.endswith(suffix) and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def test_refused_and_in_process_calls_are_client_observations() -> None:
    back = il.Service("back")
    release = asyncio.Event()

    @back.rpc
    async def work(req: dict[str, Any]) -> int:
        if req.get("hold"):
            await release.wait()
        return 1

    app = il.App([back], port=0, observe=il.Observe(metrics=True))
    async with app:
        assert await app.call("back.work", {}) == 1  # in process: no address, no port
        breaker = il.CircuitBreaker()
        breaker.transition_to(BreakerState.FORCED_OPEN)
        with pytest.raises(il.CallNotPermitted):
            await app.call("back.work", {}, policy=il.Policy(breaker=breaker))
        bulkhead = il.Bulkhead(max_concurrent=1, max_queue=0)
        full = il.Policy(bulkhead=bulkhead)
        holder = asyncio.create_task(app.call("back.work", {"hold": True}, policy=full))
        await eventually(lambda: bulkhead.active == 1)
        with pytest.raises(il.BulkheadFull):
            await app.call("back.work", {}, policy=full)
        release.set()
        assert await holder == 1
        client = (await scrape(app.url))["http_client_request_duration_seconds"]
    where = {"server_address": "", "server_port": "", "interlink_target": "back.work"}
    assert count(client, http_response_status_code="200", error_type="", **where) == 2
    refused = {"http_response_status_code": "", **where}
    assert count(client, error_type="CallNotPermitted", **refused) == 1
    assert count(client, error_type="BulkheadFull", **refused) == 1


async def test_failed_runs_are_consumed_and_timed_but_have_no_end_to_end_latency() -> None:
    billing = il.Service("billing")
    runs: list[int] = []

    @billing.subscribe("orders.placed", retry=il.Retry(attempts=2, on=Exception, backoff=FAST))
    async def on_placed(order: dict[str, int]) -> None:
        runs.append(order["id"])
        if order["id"] == 2:
            raise ValueError("cannot bill")

    app = il.App([billing], port=0, observe=il.Observe(metrics=True))
    async with app:
        await app.publish("orders.placed", {"id": 1})
        await app.publish("orders.placed", {"id": 2})
        group = {
            "messaging_destination_name": "orders.placed",
            "messaging_consumer_group_name": "billing",
        }
        families: dict[str, list[Sample]] = {}

        async def recorded() -> bool:
            nonlocal families
            families = await scrape(app.url)
            process = families.get("messaging_process_duration_seconds", [])
            return count(process, **group) == 3

        await eventually(recorded)
    process = families["messaging_process_duration_seconds"]
    assert count(process, error_type="", **group) == 1
    assert count(process, error_type="ValueError", **group) == 2
    consumed = families["messaging_client_consumed_messages"]
    assert count(consumed, "_total", **group) == 3
    assert count(families["interlink_event_end_to_end_latency_seconds"], **group) == 1
