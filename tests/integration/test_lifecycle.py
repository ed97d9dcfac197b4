"""``async with app:`` starts everything and leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
from pydantic import BaseModel

import interlink as il
from interlink.discovery import MemoryRegistry
from tests.conftest import eventually


class Ping(BaseModel):
    n: int


svc = il.Service("pinger", version="1.2.3")
gate: dict[str, asyncio.Event] = {}


@svc.rpc
async def ping(req: Ping) -> Ping:
    return Ping(n=req.n + 1)


@svc.rpc
async def wait(req: Ping) -> Ping:
    gate["entered"].set()
    await gate["release"].wait()
    return Ping(n=req.n)


@svc.subscribe("pings")
async def on_ping(evt: Ping) -> None:
    return None


def open_sockets() -> int:
    fds = os.listdir("/proc/self/fd")
    count = 0
    for fd in fds:
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return count


async def test_nothing_is_left_behind_after_a_run_with_traffic() -> None:
    tasks_before = asyncio.all_tasks()
    sockets_before = open_sockets()
    server = il.App([svc], port=0)
    async with server:
        port = server.url.rsplit(":", 1)[1]
        client = il.App([il.Service("caller")], registry=f"static:pinger=127.0.0.1:{port}", port=0)
        async with client:
            results = await asyncio.gather(*(client.call(ping, Ping(n=i)) for i in range(20)))
            assert [r.n for r in results] == list(range(1, 21))
            await client.publish("pings", Ping(n=1))
        await server.publish("pings", Ping(n=2))
    assert asyncio.all_tasks() == tasks_before
    await eventually(lambda: open_sockets() == sockets_before)


async def test_instances_are_registered_while_running_and_removed_after() -> None:
    registry = MemoryRegistry()
    app = il.App([svc, il.Service("other")], registry=registry, port=0)
    async with app:
        (instance,) = await registry.resolve("pinger")
        assert instance.url == app.url
        assert instance.version == "1.2.3"
        assert await registry.services() == ["other", "pinger"]
    assert await registry.resolve("pinger") == []
    assert await registry.services() == []


async def test_in_flight_http_calls_finish_during_shutdown() -> None:
    gate["entered"], gate["release"] = asyncio.Event(), asyncio.Event()
    server = il.App([svc], port=0)
    await server.__aenter__()
    port = server.url.rsplit(":", 1)[1]
    async with il.App(
        [il.Service("c")], registry=f"static:pinger=127.0.0.1:{port}", port=0
    ) as client:
        call = asyncio.create_task(client.call(wait, Ping(n=5)))
        await gate["entered"].wait()
        stopping = asyncio.create_task(server.__aexit__(None, None, None))
        await eventually(lambda: server._runtime is None or server.runtime.draining)
        assert not stopping.done()
        gate["release"].set()
        assert (await call).n == 5
        await stopping


async def test_a_taken_port_fails_cleanly_and_leaks_nothing() -> None:
    tasks_before = asyncio.all_tasks()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = il.App([svc], port=port)
        with pytest.raises(il.ConfigurationError, match=f"cannot listen on 127.0.0.1:{port}"):
            await app.__aenter__()
    assert asyncio.all_tasks() == tasks_before
    async with app.replace(port=0):  # the definition is reusable
        pass


async def test_an_app_cannot_run_twice_at_once() -> None:
    app = il.App([svc], serve_http=False)
    async with app:
        with pytest.raises(RuntimeError, match="already running"):
            await app.__aenter__()
    with pytest.raises(RuntimeError, match="not running"):
        app.context()


async def test_unknown_backend_urls_fail_with_a_clear_message() -> None:
    with pytest.raises(il.ConfigurationError, match="unknown broker URL 'mqtt://x'"):
        async with il.App([svc], broker="mqtt://x", serve_http=False):
            pass
    with pytest.raises(il.ConfigurationError, match="unknown registry URL"):
        async with il.App([svc], registry="zk://x", serve_http=False):
            pass
