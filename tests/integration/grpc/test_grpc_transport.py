"""The gRPC transport as a plain grpcio client and other interlink Apps see it: deadlines,
health, bad and oversized messages, the envelope in metadata, registration and choice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic import BaseModel

import interlink as il
from interlink.discovery import MemoryRegistry
from interlink.transport.grpc import schema_of
from interlink.transport.grpc._messages import Messages, compile_schema
from tests.conftest import eventually


class Nap(BaseModel):
    seconds: float
    text: str = ""


class Seen(BaseModel):
    correlation_id: str
    trace_id: str | None
    deadline: float | None


timer = il.Service("timer")
state: dict[str, Any] = {}


@timer.rpc
async def nap(req: Nap) -> Nap:
    state["started"] = True
    try:
        await asyncio.sleep(req.seconds)
    except asyncio.CancelledError:
        state["cancelled"] = True
        raise
    return req


@timer.rpc
async def seen(req: Nap, ctx: il.Context) -> Seen:
    trace = ctx.traceparent[3:35] if ctx.traceparent else None
    return Seen(correlation_id=ctx.correlation_id, trace_id=trace, deadline=ctx.deadline)


@timer.rpc
async def ticks(req: Nap) -> AsyncIterator[Nap]:
    for i in range(3):
        yield Nap(seconds=i)
    if req.text == "fail":
        raise il.ApplicationError("sold out", status=409, type="OutOfStock")


@timer.health
async def healthy() -> bool:
    return not state.get("sick", False)


@pytest.fixture
async def server() -> AsyncIterator[il.App]:
    state.clear()
    app = il.App([timer], name="clock", port=0, grpc=True, max_body_size=4096)
    async with app:
        yield app


@pytest.fixture(scope="module")
def messages() -> Messages:
    return compile_schema(schema_of("clock", [timer]))


def encode(messages: Messages, name: str, data: dict[str, Any]) -> bytes:
    return bytes(messages.fill(messages.classes[name](), name, data).SerializeToString())


async def test_a_call_past_its_grpc_timeout_is_deadline_exceeded_and_the_handler_stops(
    server: il.App, messages: Messages
) -> None:
    async with grpc.aio.insecure_channel(server.grpc_url) as channel:
        call = channel.unary_unary("/clock.timer/nap")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(encode(messages, "Nap", {"seconds": 30}), timeout=0.5)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        await eventually(lambda: state.get("cancelled") is True)
        answer = await call(encode(messages, "Nap", {"seconds": 0, "text": "ok"}), timeout=10)
        assert messages.to_dict(messages.classes["Nap"].FromString(answer), "Nap") == {
            "seconds": 0.0,
            "text": "ok",
        }


async def test_the_envelope_travels_in_metadata(server: il.App, messages: Messages) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    metadata = (("ce-correlationid", "corr-7"), ("traceparent", f"00-{trace}-00f067aa0ba902b7-01"))
    async with grpc.aio.insecure_channel(server.grpc_url) as channel:
        answer = await channel.unary_unary("/clock.timer/seen")(
            encode(messages, "Nap", {"seconds": 0}), timeout=20, metadata=metadata
        )
    got = messages.to_dict(messages.classes["Seen"].FromString(answer), "Seen")
    assert (got["correlation_id"], got["trace_id"]) == ("corr-7", trace)
    assert got["deadline"] is not None  # from grpc-timeout


async def test_a_streaming_rpc_is_a_server_streaming_method(
    server: il.App, messages: Messages
) -> None:
    assert "rpc ticks (Nap) returns (stream Nap);" in schema_of("clock", [timer]).proto()
    async with grpc.aio.insecure_channel(server.grpc_url) as channel:
        ticks = channel.unary_stream("/clock.timer/ticks")
        items = [m async for m in ticks(encode(messages, "Nap", {"seconds": 0}), timeout=10)]
        assert [messages.classes["Nap"].FromString(m).seconds for m in items] == [0, 1, 2]
        got: list[bytes] = []

        async def read() -> None:
            async for m in ticks(encode(messages, "Nap", {"seconds": 0, "text": "fail"})):
                got.append(m)

        with pytest.raises(grpc.aio.AioRpcError) as info:
            await read()
        assert (len(got), info.value.code()) == (3, grpc.StatusCode.ABORTED)


async def test_health_answers_from_readiness(server: il.App) -> None:
    async with grpc.aio.insecure_channel(server.grpc_url) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", "timer"):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        state["sick"] = True
        answer = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async for _ in health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10):
                pass
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_bad_and_oversized_messages_are_refused_and_the_server_goes_on(
    server: il.App, messages: Messages
) -> None:
    async with grpc.aio.insecure_channel(server.grpc_url) as channel:
        call = channel.unary_unary("/clock.timer/nap")
        refused = [
            (b"\xff\xff\xff\xff", grpc.StatusCode.INVALID_ARGUMENT, "422"),
            (encode(messages, "Nap", {"seconds": 0, "text": "x" * 5000}), None, "413"),
            (encode(messages, "Nap", {"seconds": 0, "text": "x" * 200_000}), None, None),
        ]
        for body, code, status in refused:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call(body, timeout=10)
            assert info.value.code() == (code or grpc.StatusCode.RESOURCE_EXHAUSTED)
            assert dict(info.value.trailing_metadata()).get("interlink-status") == status
        # A CloudEvent in binary mode without its id: the binding is broken.
        broken = (("ce-specversion", "1.0"), ("ce-source", "/x"), ("ce-type", "t"))
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call(encode(messages, "Nap", {"seconds": 0}), metadata=broken, timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert dict(info.value.trailing_metadata())["interlink-status"] == "400"
        answer = await call(encode(messages, "Nap", {"seconds": 0}), timeout=10)
        assert messages.classes["Nap"].FromString(answer).seconds == 0


async def test_instances_register_grpc_and_callers_choose_it_only_when_asked() -> None:
    registry = MemoryRegistry()
    both = il.App([timer], name="clock", registry=registry, port=0, grpc=True)
    async with both:
        (instance,) = both.runtime.instances
        assert instance.transports == ("http", "grpc")
        assert instance.metadata["grpc"] == both.grpc_url
        assert instance.metadata["grpc_package"] == "clock"
        for transports, over_grpc in (({}, False), ({"timer": "grpc"}, True)):
            async with il.App([], registry=registry, port=0, transports=transports) as caller:
                assert await caller.call("timer.nap", {"seconds": 0}) == {"seconds": 0, "text": ""}
                # The gRPC client is made on the first call that goes over gRPC.
                remote = caller.runtime.outbound.calls._remote
                assert (remote._grpc is not None) is over_grpc
        async with il.App([], registry=registry, port=0, transports={"timer": "socket"}) as c:
            with pytest.raises(il.ServiceUnavailable):
                await c.call("timer.nap", {"seconds": 0})


async def test_an_instance_serving_only_grpc_is_called_over_grpc() -> None:
    registry = MemoryRegistry()
    only = il.App([timer], registry=registry, serve_http=False, grpc=True)
    async with only, il.App([], registry=registry, port=0) as caller:
        assert only.runtime.instances[0].transports == ("grpc",)
        assert await caller.call("timer.nap", {"seconds": 0, "text": "g"}) == {
            "seconds": 0,
            "text": "g",
        }
    no_grpc = il.App([timer], registry=registry, port=0)
    async with no_grpc, il.App([], registry=registry, port=0, transports={"timer": "grpc"}) as c:
        with pytest.raises(il.ServiceUnavailable):
            await c.call("timer.nap", {"seconds": 0})
    with pytest.raises(il.ConfigurationError, match="host:port"):
        il.App([timer], grpc="nowhere")
