"""W3C trace context across real hops: HTTP in, HTTP out to another App, and the broker.

A plain HTTP client sends ``front.relay`` the headers of a W3C test-suite case; ``relay`` calls
``back.where`` in another App over HTTP and publishes an event; ``back.where`` and the
subscriber report the trace they run under.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
import pytest
from multidict import CIMultiDict

import interlink as il
from interlink._tracecontext import parse_traceparent
from interlink.broker import MemoryBroker
from interlink.discovery import MemoryRegistry
from tests.conftest import eventually

TRACE = "12345678901234567890123456789012"
PARENT = "1234567890123456"
VALID = f"00-{TRACE}-{PARENT}-01"


def make_services(seen: list[dict[str, Any]]) -> tuple[il.Service, il.Service]:
    front, back = il.Service("front"), il.Service("back")

    @back.rpc
    async def where(req: dict[str, Any], ctx: il.Context) -> dict[str, Any]:
        return {"traceparent": ctx.traceparent, "tracestate": ctx.tracestate}

    @front.rpc
    async def relay(req: dict[str, Any], ctx: il.Context) -> dict[str, Any]:
        first = await ctx.call("back.where", {})
        second = await ctx.call("back.where", {})
        await ctx.publish("traced", {})
        return {"mine": [ctx.traceparent, ctx.tracestate], "calls": [first, second]}

    @front.subscribe("traced")
    async def on_traced(evt: dict[str, Any], ctx: il.Context) -> None:
        seen.append({"traceparent": ctx.traceparent, "tracestate": ctx.tracestate})

    return front, back


@dataclass
class Hops:
    url: str
    session: aiohttp.ClientSession
    broker: MemoryBroker
    seen: list[dict[str, Any]]

    async def relay(self, headers: Any) -> dict[str, Any]:
        async with self.session.post(f"{self.url}/rpc/front/relay", json={}, headers=headers) as r:
            assert r.status == 200, await r.text()
            result: dict[str, Any] = await r.json()
        await eventually(lambda: bool(self.seen))  # the event is handled after the call returns
        result["event"] = self.seen.pop()
        return result


@pytest.fixture
async def hops() -> AsyncIterator[Hops]:
    seen: list[dict[str, Any]] = []
    front, back = make_services(seen)
    registry, broker = MemoryRegistry(), MemoryBroker()
    back_app = il.App([back], registry=registry, port=0)
    front_app = il.App([front], registry=registry, broker=broker, port=0)
    async with back_app, front_app, aiohttp.ClientSession() as session:
        yield Hops(front_app.url, session, broker, seen)


def trace_of(traceparent: str) -> tuple[str, str, bool]:
    fields = parse_traceparent(traceparent)
    assert fields is not None, traceparent
    return fields


async def test_a_valid_trace_and_its_state_reach_every_hop(hops: Hops) -> None:
    result = await hops.relay({"traceparent": VALID, "tracestate": "rojo=1, congo=2"})
    assert result["mine"] == [VALID, "rojo=1,congo=2"]
    downstream = [*result["calls"], result["event"]]
    for hop in downstream:
        assert trace_of(hop["traceparent"])[0] == TRACE
        assert hop["tracestate"] == "rojo=1,congo=2"
    parent_ids = {trace_of(hop["traceparent"])[1] for hop in downstream}
    assert len(parent_ids) == 3  # a new parent id for each request
    assert PARENT not in parent_ids
    [stored] = hops.broker.messages("traced")
    on_the_broker = msgspec.json.decode(stored.body)
    assert on_the_broker["tracestate"] == "rojo=1,congo=2"
    assert trace_of(on_the_broker["traceparent"])[0] == TRACE


@pytest.mark.parametrize(
    "traceparent",
    [
        f"00-ABCDEF{TRACE[6:]}-{PARENT}-01",  # uppercase hex
        f"00-{'0' * 32}-{PARENT}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"ff-{TRACE}-{PARENT}-01",
        f"00-{TRACE}-{PARENT}-!!",
        f"{VALID}-extra",
        None,
    ],
)
async def test_an_invalid_trace_restarts_once_for_all_the_work_of_a_request(
    hops: Hops, traceparent: str | None
) -> None:
    headers = {"tracestate": "foo=1"}
    if traceparent is not None:
        headers["traceparent"] = traceparent
    result = await hops.relay(headers)
    mine, state = result["mine"]
    assert state is None
    trace_id = trace_of(mine)[0]
    assert trace_id not in (TRACE, f"abcdef{TRACE[6:]}", "0" * 32)
    for hop in [*result["calls"], result["event"]]:
        assert trace_of(hop["traceparent"])[0] == trace_id
        assert hop["tracestate"] is None


async def test_a_higher_version_is_continued_and_sent_on_as_version_00(hops: Hops) -> None:
    result = await hops.relay({"traceparent": f"cc-{TRACE}-{PARENT}-01-what-the-future-holds"})
    assert result["mine"][0] == VALID
    for hop in result["calls"]:
        assert hop["traceparent"].startswith(f"00-{TRACE}-")


async def test_two_traceparent_headers_restart_the_trace(hops: Hops) -> None:
    headers = CIMultiDict([("traceparent", VALID), ("traceparent", VALID)])
    result = await hops.relay(headers)
    assert trace_of(result["mine"][0])[0] != TRACE


async def test_several_tracestate_headers_are_one_list(hops: Hops) -> None:
    headers = CIMultiDict(
        [("traceparent", VALID), ("tracestate", "foo=1,bar=2"), ("tracestate", "baz=3")]
    )
    result = await hops.relay(headers)
    assert result["calls"][0]["tracestate"] == "foo=1,bar=2,baz=3"


async def test_calls_from_outside_a_handler_share_one_trace_per_context() -> None:
    _, back = make_services([])
    registry = MemoryRegistry()
    caller = il.App([il.Service("caller")], registry=registry, serve_http=False)
    async with il.App([back], registry=registry, port=0), caller:
        ctx = caller.context()
        first = await ctx.call("back.where", {})
        second = await ctx.call("back.where", {})
        other = await caller.call("back.where", {})
    assert trace_of(first["traceparent"])[0] == trace_of(second["traceparent"])[0]
    assert trace_of(other["traceparent"])[0] != trace_of(first["traceparent"])[0]
