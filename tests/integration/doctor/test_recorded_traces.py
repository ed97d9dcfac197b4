"""The doctor reads the spans interlink really records: two Apps over HTTP and a broker, each
with ``Observe(recent_spans=...)``, their ``GET /_interlink/spans`` fed to ``interlink doctor
--traces URL`` (its own process) and to ``diagnose(spans=...)``.

The system: ``edge.start`` (front) calls ``stock.reserve`` (back, over HTTP), which calls
``price.quote`` (back, in process), which calls ``ledger.record`` (front, over HTTP): three
synchronous calls in a row. ``edge.start`` then calls ``stock.peek`` ten times (a chatty
pair), calls ``flaky.attempt`` which fails five times before it answers (five retried calls),
publishes ``orders.placed`` (``ledger`` consumes it, and calls ``mail.send``) and
``orders.unread`` (nobody does)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import interlink as il
from interlink.broker import MemoryBroker
from interlink.discovery import MemoryRegistry
from interlink.doctor import Finding, Thresholds, diagnose, load_spans
from interlink.resilience import Backoff, Policy, Retry
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[3]
SPANS = 48
"""20 calls (a client and a server span each), the root server span, two create (producer)
and two send (client) spans, one process (consumer) span, and its delivery's receive and ack
(client) spans."""
CHAIN = "edge.start → stock.reserve → price.quote → ledger.record"


def services(consumed: list[str]) -> tuple[list[il.Service], list[il.Service]]:
    edge, ledger = il.Service("edge"), il.Service("ledger")
    stock, price, flaky = il.Service("stock"), il.Service("price"), il.Service("flaky")
    mail = il.Service("mail")
    failures: Counter[str] = Counter()

    @edge.rpc
    async def start(req: dict[str, Any], ctx: il.Context) -> dict[str, Any]:
        reserved = await ctx.call("stock.reserve", {"sku": req["sku"]})
        for _ in range(10):
            await ctx.call("stock.peek", {"sku": req["sku"]})
        tries = await ctx.call("flaky.attempt", {"id": req["id"]})
        await ctx.publish("orders.placed", {"id": req["id"]}, key=req["id"])
        await ctx.publish("orders.unread", {"id": req["id"]}, key=req["id"])
        return {"reserved": reserved, "tries": tries}

    @ledger.rpc
    async def record(req: dict[str, Any]) -> bool:
        return True

    @ledger.subscribe("orders.placed", group="ledger")
    async def on_placed(evt: dict[str, Any], ctx: il.Context) -> None:
        await ctx.call("mail.send", {"id": evt["id"]})
        consumed.append(evt["id"])

    @stock.rpc
    async def reserve(req: dict[str, Any], ctx: il.Context) -> dict[str, Any]:
        return await ctx.call("price.quote", req)  # type: ignore[no-any-return]

    @stock.rpc
    async def peek(req: dict[str, Any]) -> int:
        return 7

    @price.rpc
    async def quote(req: dict[str, Any], ctx: il.Context) -> dict[str, Any]:
        return {"sku": req["sku"], "recorded": await ctx.call("ledger.record", req)}

    @flaky.rpc(idempotent=True)
    async def attempt(req: dict[str, Any]) -> int:
        failures[req["id"]] += 1
        if failures[req["id"]] <= 5:
            raise il.ApplicationError("not yet", status=503, type="NotYet")
        return failures[req["id"]]

    @mail.rpc
    async def send(req: dict[str, Any]) -> bool:
        return True

    return [edge, ledger], [stock, price, flaky, mail]


@pytest.fixture
async def system() -> AsyncIterator[list[str]]:
    """Runs one ``edge.start`` through the two Apps; yields their base URLs."""
    consumed: list[str] = []
    front_services, back_services = services(consumed)
    registry, broker = MemoryRegistry(), MemoryBroker()
    observe = il.Observe(recent_spans=1_000)
    retry = Retry(attempts=6, on=il.CallError, backoff=Backoff.constant(0.01))
    front = il.App(
        front_services,
        registry=registry,
        broker=broker,
        port=0,
        observe=observe,
        policies={"flaky": Policy(deadline=30.0, retry=retry)},
    )
    back = il.App(back_services, registry=registry, broker=broker, port=0, observe=observe)
    async with front, back, aiohttp.ClientSession() as session:
        async with session.post(f"{front.url}/rpc/edge/start", json={"id": "o-1", "sku": "s"}) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["tries"] == 6
        await eventually(lambda: consumed == ["o-1"])
        # A span is recorded when it ends: the consumer's just after its handler returned.
        await eventually(lambda: sum(recorded(app) for app in (front, back)) == SPANS)
        yield [front.url, back.url]


def recorded(app: il.App) -> int:
    recorder = app.runtime.telemetry.recorder
    assert recorder is not None
    return len(recorder.since(0)["spans"])


def found(findings: list[Finding] | list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(code, source, message) of each finding (objects or their JSON)."""
    rows = [f if isinstance(f, dict) else f.to_dict() for f in findings]
    return {(row["code"], row["source"], row["message"]) for row in rows}


def expected_from_traces(messages: set[tuple[str, str, str]]) -> None:
    traced = {(code, message) for code, source, message in messages if source == "traces"}
    codes = Counter(code for code, _ in traced)
    assert codes == {"IL101": 1, "IL110": 1, "IL112": 1, "IL106": 1}, traced
    [deep] = [m for c, m in traced if c == "IL101"]
    assert deep.startswith("3 synchronous calls in a row (seen in 1 trace(s), e.g. ")
    assert deep.endswith(f"): {CHAIN}")
    [chatty] = [m for c, m in traced if c == "IL110"]
    assert chatty.startswith("a chatty pair: 11 calls from edge to stock in one trace (")
    assert ("IL112", "a retry storm: 5 retried calls in one trace") in traced
    assert ("IL106", "published (edge) but nothing here subscribes to it") in traced


async def test_the_doctor_cli_reads_the_spans_of_both_apps(system: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "interlink", "doctor", "--json"),
        *(arg for url in system for arg in ("--traces", url)),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    body = json.loads(out)
    expected_from_traces(found(body["findings"]))
    unread = [f for f in body["findings"] if f["code"] == "IL106"]
    assert [f["where"] for f in unread] == ["orders.unread"]  # orders.placed has a consumer


async def test_diagnose_reads_the_same_spans(system: list[str]) -> None:
    spans = [span for url in system for span in await asyncio.to_thread(load_spans, url)]
    report = diagnose(spans=spans)
    expected_from_traces(found(report.findings))
    assert len(spans) == SPANS
    assert Counter(span.kind for span in spans) == {
        "server": 21,
        "client": 24,
        "producer": 2,
        "consumer": 1,
    }


async def test_each_attempt_is_a_call_and_a_subscriber_is_named_by_its_process_span(
    system: list[str],
) -> None:
    spans = [span for url in system for span in await asyncio.to_thread(load_spans, url)]
    report = diagnose(spans=spans, thresholds=Thresholds(chatty_calls=6, fan_out=1))
    chatty = sorted(
        f.message.partition(" in one trace")[0] for f in report.findings if f.code == "IL110"
    )
    assert chatty == [
        "a chatty pair: 11 calls from edge to stock",
        "a chatty pair: 6 calls from edge to flaky",  # one call, six attempts
    ]
    wide = {f.where: f.message for f in report.findings if f.code == "IL109"}
    assert wide["ledger:process orders.placed"] == "calls 1 RPCs synchronously (traces): mail.send"
    assert wide["edge.start"] == (
        "calls 3 RPCs synchronously (traces): flaky.attempt, stock.peek, stock.reserve"
    )
