"""The socket transport's own promises: which transport a call takes, many calls on one
connection without mixing their answers, a bound on calls in flight, Unix sockets, draining,
and reconnecting after the server comes back."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator

import msgspec
import pytest

import interlink as il
from interlink._envelope import Envelope, new_id
from interlink.discovery import MemoryRegistry
from interlink.transport.socket import SocketClient, parse_address
from tests.conftest import eventually, free_port

svc = il.Service("backend")
running = {"now": 0, "most": 0}


@svc.rpc
async def echo(req: dict[str, float]) -> dict[str, float]:
    running["now"] += 1
    running["most"] = max(running["most"], running["now"])
    try:
        await asyncio.sleep(req.get("sleep", 0))
    finally:
        running["now"] -= 1
    return req


@pytest.fixture(autouse=True)
def _reset() -> None:
    running.update(now=0, most=0)


@pytest.fixture
async def server() -> AsyncIterator[il.App]:
    async with il.App([svc], registry=MemoryRegistry(), port=0, socket=True) as app:
        yield app


def envelope() -> Envelope:
    return Envelope(
        id=new_id(), source="/test", type="backend.echo", specversion="1.0", correlationid="c1"
    )


async def call(client: SocketClient, address: str, body: dict[str, float]) -> object:
    outcome = await client.send(
        address, "backend", "echo", envelope(), msgspec.json.encode(body), 10.0
    )
    assert outcome.status == 200, outcome
    return msgspec.json.decode(outcome.body)


async def test_a_caller_prefers_the_socket_unless_told_http(server: il.App) -> None:
    socket_server = server.runtime.socket_server
    assert socket_server is not None
    (instance,) = server.runtime.instances
    assert instance.transports == ("http", "socket")
    assert instance.metadata["socket"] == server.socket_url
    async with il.App(
        [], registry=server.registry, serve_http=False, transports={"backend": "http"}
    ) as over_http:
        assert await over_http.call("backend.echo", {"x": 1.0}) == {"x": 1.0}
        assert socket_server.connections == 0
    async with il.App([], registry=server.registry, serve_http=False) as default:
        assert await default.call("backend.echo", {"x": 2.0}) == {"x": 2.0}
        assert socket_server.connections == 1


async def test_asking_for_the_socket_skips_instances_without_one() -> None:
    registry = MemoryRegistry()
    async with (
        il.App([svc], registry=registry, port=0),
        il.App([], registry=registry, serve_http=False, transports={"backend": "socket"}) as caller,
    ):
        with pytest.raises(il.ServiceUnavailable):
            await caller.call("backend.echo", {})


async def test_concurrent_calls_share_one_connection_and_get_their_own_answers(
    server: il.App,
) -> None:
    async with SocketClient() as client:
        bodies = [{"i": float(i), "sleep": (i % 7) / 100} for i in range(60)]
        answers = await asyncio.gather(*(call(client, server.socket_url, b) for b in bodies))
    assert answers == bodies
    assert running["most"] > 1


async def test_calls_beyond_max_streams_wait_for_a_free_stream(server: il.App) -> None:
    async with SocketClient(max_streams=2) as client:
        bodies = [{"i": float(i), "sleep": 0.05} for i in range(8)]
        answers = await asyncio.gather(*(call(client, server.socket_url, b) for b in bodies))
    assert answers == bodies
    assert running["most"] == 2


async def test_a_unix_socket_serves_calls() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "backend.sock")
        registry = MemoryRegistry()
        async with (
            il.App([svc], registry=registry, serve_http=False, socket=f"unix://{path}") as app,
            il.App([], registry=registry, serve_http=False) as caller,
        ):
            assert app.socket_url == f"unix://{path}"
            assert await caller.call("backend.echo", {"u": 1.0}) == {"u": 1.0}
        assert not os.path.exists(path)


async def test_a_stopping_server_finishes_calls_in_flight_and_takes_no_new_ones() -> None:
    app = il.App([svc], registry=MemoryRegistry(), port=0, socket=True, drain_timeout=5)
    async with SocketClient() as client:
        await app.__aenter__()
        address = app.socket_url
        try:
            in_flight = asyncio.create_task(call(client, address, {"sleep": 0.3}))
            await eventually(lambda: running["now"] == 1)
        finally:
            await app.__aexit__(None, None, None)
        assert await in_flight == {"sleep": 0.3}
        with pytest.raises(il.ServiceUnavailable):
            await call(client, address, {})


async def test_the_client_reconnects_when_the_server_comes_back() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    app = il.App([svc], registry=MemoryRegistry(), serve_http=False, socket=address)
    async with SocketClient() as client:
        async with app:
            assert await call(client, address, {"n": 1.0}) == {"n": 1.0}
        with pytest.raises(il.ServiceUnavailable):
            await call(client, address, {})
        async with app.replace():

            async def answers() -> bool:
                try:
                    return await call(client, address, {"n": 2.0}) == {"n": 2.0}
                except il.ServiceUnavailable:
                    return False

            await eventually(answers)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(il.ConfigurationError, match="tcp://host:port"):
        il.App([svc], socket="http://127.0.0.1:1")
    with pytest.raises(il.ConfigurationError, match="absolute"):
        parse_address("unix://relative.sock")
    with pytest.raises(il.DefinitionError, match="'http' or 'socket'"):
        il.App([svc], transports={"backend": "grpc"})
