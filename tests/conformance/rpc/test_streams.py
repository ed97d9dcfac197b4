"""Streaming RPCs: the contract in-process and over every transport."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

import interlink as il
from interlink.testing import TestApp
from tests.conformance.rpc._services import reserve
from tests.conformance.rpc._stream_services import (
    Count,
    Tick,
    bad_item,
    count,
    ended,
    hurried_count,
    produced,
    reset_streams,
    runs,
    safe_flaky,
    unsafe_flaky,
    watch_context,
)
from tests.conformance.rpc.conftest import System
from tests.conftest import eventually


@pytest.fixture(autouse=True)
def _fresh_streams() -> None:
    reset_streams()


async def collect(items: AsyncIterator[Tick], into: list[int]) -> None:
    async for tick in items:
        into.append(tick.i)


async def test_items_arrive_in_order_and_typed(system: System) -> None:
    items = [t async for t in system.app.stream(count, Count(n=50))]
    assert items == [Tick(i=i) for i in range(50)]
    await eventually(lambda: ended == ["done"])


async def test_by_name_items_are_decoded_as_returns(system: System) -> None:
    async with system.app.stream("backend.count", {"n": 3}, returns=Tick) as items:
        got = [t async for t in items]
    assert got == [Tick(i=0), Tick(i=1), Tick(i=2)]


async def test_an_error_mid_stream_comes_after_the_items_before_it(system: System) -> None:
    got: list[int] = []
    with pytest.raises(il.RemoteError) as info:
        await collect(system.app.stream(count, Count(n=10, fail_at=3)), got)
    assert got == [0, 1, 2]
    assert info.value.status == 409
    assert info.value.remote_type == "OutOfStock"


async def test_an_invalid_request_is_refused_before_any_item(system: System) -> None:
    with pytest.raises(il.InvalidRequest):
        async for _ in system.app.stream("backend.count", {"n": "many"}):
            pass
    assert produced == []


async def test_closing_the_stream_stops_the_handler(system: System) -> None:
    async with system.app.stream(count, Count(n=1_000_000, pause=0.001)) as items:
        async for tick in items:
            if tick.i == 2:
                break
    await eventually(lambda: ended in (["closed"], ["cancelled"]))
    stopped_at = len(produced)
    await asyncio.sleep(0)
    assert len(produced) == stopped_at < 1_000_000


async def test_a_cancelled_reader_stops_the_handler(system: System) -> None:
    async def read() -> None:
        async for _ in system.app.stream(count, Count(n=1_000_000, pause=0.01)):
            pass

    task = asyncio.create_task(read())
    await eventually(lambda: len(produced) >= 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: ended in (["closed"], ["cancelled"]))


async def test_the_deadline_covers_the_whole_stream(system: System) -> None:
    got: list[int] = []
    with pytest.raises(il.DeadlineExceeded):
        await collect(system.app.stream(hurried_count, Count(n=1000, pause=0.02)), got)
    assert 0 < len(got) < 1000


async def test_a_streaming_rpc_cannot_be_called_as_unary(system: System) -> None:
    with pytest.raises(il.CallError, match="stream"):
        await system.app.call(count, Count(n=1))
    with pytest.raises(il.CallError, match="stream"):
        await system.app.call("backend.count", {"n": 1})


async def test_a_unary_rpc_cannot_be_streamed(system: System) -> None:
    with pytest.raises(il.CallError):
        async for _ in system.app.stream("backend.reserve", {"sku": "a", "qty": 1}):
            pass
    assert reserve.name == "reserve"


def test_a_streaming_handler_declares_its_item_type() -> None:
    svc = il.Service("defs")
    with pytest.raises(il.DefinitionError, match="AsyncIterator"):

        @svc.rpc
        async def wrong(req: Count) -> Tick:  # type: ignore[misc]
            yield Tick(i=0)

    @svc.rpc
    async def right(req: Count) -> AsyncIterator[Tick]:
        yield Tick(i=0)

    assert right.streaming
    assert right.response.type is Tick
    assert not svc.rpcs.get("wrong")


RUN_AHEAD = {"in-process": 1, "socket": 16 + 1, "http": 200, "grpc": 200}
"""Items a producer may run ahead of a reader that stopped taking them: in-process the reader
drives the handler; the socket grants 16 items of credit; over HTTP the client holds 32 lines
and the kernel's socket buffers hold the rest (some 70 of these 128 KiB items here); over gRPC
its flow-control windows and buffers (some 45 here)."""


async def test_a_reader_that_stops_taking_items_pauses_the_producer(system: System) -> None:
    request = Count(n=3000, size=128 * 1024)
    async with system.app.stream(count, request) as items:
        taken = 0
        async for _ in items:
            taken += 1
            if taken == 3:
                break
        await eventually(lambda: len(produced) >= 3)
        # Proving that something does not happen takes a window of time: the producer has it
        # to run ahead, and must stop within its allowance.
        await asyncio.sleep(1.0)
        assert len(produced) <= taken + RUN_AHEAD[system.transport], len(produced)
        assert ended == []


async def test_many_items_arrive_in_order(system: System) -> None:
    n = 0
    async for tick in system.app.stream(count, Count(n=20_000)):
        assert tick.i == n
        n += 1
    assert n == 20_000


async def test_an_item_the_handler_cannot_encode_ends_the_stream_with_an_error(
    system: System,
) -> None:
    got: list[int] = []
    with pytest.raises(il.RemoteError) as info:
        await collect(system.app.stream(bad_item, Count(n=1)), got)
    assert got == [0]
    assert info.value.status == 500


async def test_an_unknown_method_is_refused_on_the_first_read(system: System) -> None:
    items = system.app.stream("backend.nope", {})
    with pytest.raises(il.MethodNotFound):
        await anext(items)


async def test_the_stream_carries_the_callers_correlation_id_and_trace(system: System) -> None:
    ctx = system.app.context()
    async with ctx.stream(watch_context, Count(n=2)) as items:
        seen = [s async for s in items]
    assert [s.correlation_id for s in seen] == [ctx.correlation_id] * 2
    assert ctx.traceparent is not None
    assert seen[0].trace_id == ctx.traceparent[3:35]
    assert seen[0].deadline is None


events = il.Service("events")


@events.rpc
async def announce(req: Count, ctx: il.Context) -> AsyncIterator[Tick]:
    await ctx.publish("ticks.announced", Tick(i=-1))
    for i in range(req.n):
        if i == req.fail_at:
            raise il.ApplicationError("sold out", status=409, type="OutOfStock")
        yield Tick(i=i)


@pytest.mark.parametrize(
    ("request_", "read", "sent"),
    [
        (Count(n=3), 99, 1),
        (Count(n=3), 1, 0),
        (Count(n=3, fail_at=1), 99, 0),
    ],
)
async def test_held_back_events_go_out_only_when_the_handler_finishes(
    request_: Count, read: int, sent: int
) -> None:
    async with TestApp(il.App([events])) as t:
        got: list[int] = []
        with contextlib.suppress(il.RemoteError):
            async with t.app.stream(announce, request_) as items:
                async for tick in items:
                    got.append(tick.i)
                    if len(got) == read:
                        break
        assert len(t.published("ticks.announced")) == sent


async def test_an_idempotent_stream_is_retried_before_its_first_item(system: System) -> None:
    items = [t.i async for t in system.app.stream(safe_flaky, Count(n=3))]
    assert items == [0, 1, 2]
    assert runs["safe_flaky"] == 2


async def test_a_stream_is_never_retried_after_its_first_item(system: System) -> None:
    got: list[int] = []
    with pytest.raises(il.RemoteError):
        await collect(system.app.stream(safe_flaky, Count(n=3, fail_at=1)), got)
    assert got == [0]
    assert runs["safe_flaky"] == 1


async def test_a_stream_that_is_not_idempotent_is_not_retried(system: System) -> None:
    with pytest.raises(il.RemoteError):
        await collect(system.app.stream(unsafe_flaky, Count(n=1)), [])
    assert runs["unsafe_flaky"] == 1
