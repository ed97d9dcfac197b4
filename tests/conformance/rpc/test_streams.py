"""Streaming RPCs: the contract in-process and over every transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import interlink as il
from tests.conformance.rpc._services import reserve
from tests.conformance.rpc._stream_services import (
    Count,
    Tick,
    count,
    ended,
    hurried_count,
    produced,
    reset_streams,
)
from tests.conformance.rpc.conftest import System
from tests.conftest import eventually


@pytest.fixture(autouse=True)
def _fresh_streams(request: pytest.FixtureRequest) -> None:
    reset_streams()
    if "[socket]" in request.node.name:  # gRPC carries them: server-streaming methods
        pytest.skip("the socket transport does not carry streams yet: they go over HTTP")


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
