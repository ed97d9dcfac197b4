"""Slow and hostile clients, on real loopback sockets: the server's head and body timeouts, its
head size limit, and a shutdown that ends within ``drain_timeout`` whatever clients do."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from pydantic import BaseModel

import interlink as il
from interlink._http import _CLIENT_KEEPALIVE, _SERVER_KEEPALIVE
from interlink.transport.http._client import CLIENT_KEEPALIVE, SERVER_KEEPALIVE


class Item(BaseModel):
    sku: str


svc = il.Service("limits")
release = asyncio.Event()


@svc.rpc
async def echo(req: Item) -> Item:
    return req


@svc.rpc
async def big(req: Item) -> list[str]:
    return ["x" * 1000] * 8000  # 8 MB: more than a socket buffers for a client that never reads


@svc.rpc
async def stuck(req: Item) -> Item:
    await asyncio.sleep(3600)
    return req


@svc.route("GET", "/ping")
async def ping() -> Item:
    return Item(sku="pong")


HEAD = b"POST /rpc/limits/echo HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"


@contextlib.asynccontextmanager
async def serving(**settings: Any) -> AsyncIterator[tuple[il.App, str, int]]:
    async with il.App([svc], port=0, **settings) as app:
        parts = urlsplit(app.url)
        assert parts.hostname is not None
        assert parts.port is not None
        yield app, parts.hostname, parts.port


async def read_all(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """Everything until the server closes the connection (fails after ``timeout``)."""
    async with asyncio.timeout(timeout):
        return await reader.read()


def parse(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body) if body else None


async def get_ok(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url + "/ping") as resp:
        return resp.status


def test_the_keep_alive_defaults_are_the_clients_and_a_shorter_one_is_refused() -> None:
    assert (_SERVER_KEEPALIVE, _CLIENT_KEEPALIVE) == (SERVER_KEEPALIVE, CLIENT_KEEPALIVE)
    assert il.HttpTimeouts().keep_alive == SERVER_KEEPALIVE == 5.0
    with pytest.raises(ValueError, match=r"keep_alive must be above 4\.0 s"):
        il.HttpTimeouts(keep_alive=3)
    with pytest.raises(ValueError, match="positive"):
        il.HttpTimeouts(header=0)
    from datetime import timedelta

    assert il.HttpTimeouts(body=timedelta(minutes=1)).body == 60.0


async def test_slowloris_connections_are_closed_at_the_head_timeout_and_others_are_served() -> None:
    async with serving(http_timeouts=il.HttpTimeouts(header=1.0)) as (app, host, port):
        streams = [await asyncio.open_connection(host, port) for _ in range(200)]
        for _, writer in streams:
            writer.write(HEAD)  # a head that never ends
        started = time.monotonic()
        # While they hang, the server keeps serving everyone else.
        assert await get_ok(app.url) == 200
        answers = await asyncio.gather(*(read_all(r, timeout=5.0) for r, _ in streams))
        elapsed = time.monotonic() - started
        for _, writer in streams:
            writer.close()
        assert elapsed < 3.0
        assert {parse(a)[0] for a in answers} == {408}
        _status, headers, body = parse(answers[0])
        assert body["error"]["type"] == "RequestTimeout"
        assert body["error"]["correlation_id"] == headers["x-correlation-id"]
        assert headers["connection"] == "close"
        assert await get_ok(app.url) == 200
        assert not app.runtime.server or len(_connections(app)) <= 1


def _server_state(app: il.App) -> Any:
    server = app.runtime.server
    assert server is not None
    assert server._server is not None
    return server._server.server_state


def _connections(app: il.App) -> set[Any]:
    return set(_server_state(app).connections)


def _small_window(host: str, port: int) -> socket.socket:
    """A client socket with a tiny receive buffer: an unread answer soon fills it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.setblocking(False)
    return sock


async def test_a_connection_that_sends_nothing_is_closed_silently() -> None:
    async with serving(http_timeouts=il.HttpTimeouts(header=0.5)) as (_, host, port):
        reader, writer = await asyncio.open_connection(host, port)
        assert await read_all(reader, timeout=3.0) == b""
        writer.close()


async def test_a_body_that_does_not_arrive_in_time_is_408() -> None:
    async with serving(http_timeouts=il.HttpTimeouts(body=0.5)) as (app, host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(HEAD + b"content-length: 100\r\n\r\n" + b'{"sku": ')
        status, _headers, body = parse(await read_all(reader, timeout=3.0))
        writer.close()
        assert (status, body["error"]["type"]) == (408, "RequestTimeout")
        assert await get_ok(app.url) == 200


async def test_a_head_over_64_kib_is_431_and_malformed_http_a_json_400() -> None:
    async with serving() as (_, host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(HEAD + b"x-padding: " + b"a" * 70_000 + b"\r\n")
        status, _, body = parse(await read_all(reader, timeout=3.0))
        writer.close()
        assert (status, body["error"]["type"]) == (431, "HeadersTooLarge")
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        status, headers, body = parse(await read_all(reader, timeout=3.0))
        writer.close()
        assert (status, body["error"]["type"]) == (400, "BadRequest")
        assert headers["content-type"] == "application/json"


async def test_a_kept_alive_connection_gets_a_new_head_timer_for_its_next_request() -> None:
    async with serving(http_timeouts=il.HttpTimeouts(header=0.5)) as (_, host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(HEAD + b"content-length: 13\r\n\r\n" + b'{"sku": "a"}\n')
        first = await reader.readuntil(b"\r\n\r\n")
        assert first.startswith(b"HTTP/1.1 200")
        await reader.readexactly(int(parse(first)[1]["content-length"]))
        await asyncio.sleep(1.0)  # idle past the head timeout: keep-alive (5 s) governs here
        writer.write(b"GET /ping HTTP/1.1\r\n")  # ... and a next head that never ends
        status, _, _ = parse(await read_all(reader, timeout=3.0))
        writer.close()
        assert status == 408


async def test_shutdown_under_slow_clients_ends_within_drain_timeout_without_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    slow = il.HttpTimeouts(header=60, body=60)  # the drain, not the timers, must end them
    async with contextlib.AsyncExitStack() as stack:
        app, host, port = await stack.enter_async_context(
            serving(drain_timeout=2.0, http_timeouts=slow)
        )
        heads, bodies, reading = [], [], []
        for _ in range(50):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(HEAD)
            heads.append((reader, writer))
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(HEAD + b"content-length: 1000\r\n\r\n" + b'{"sku": ')
            bodies.append((reader, writer))
        # A client that asks for a large answer and never reads it.
        reader, writer = await asyncio.open_connection(sock=_small_window(host, port))
        writer.write(
            HEAD.replace(b"echo", b"big") + b"content-length: 12\r\n\r\n" + b'{"sku": "a"}'
        )
        reading.append((reader, writer))
        state = _server_state(app)
        # And a handler that runs past the drain.
        stuck_call = asyncio.create_task(_post(app.url + "/rpc/limits/stuck"))
        await asyncio.sleep(0.5)  # every request is in; the server holds them all
        started = time.monotonic()
        await stack.aclose()
        elapsed = time.monotonic() - started
    assert elapsed < 2.0 + 0.2, elapsed
    assert not state.connections
    assert not state.tasks
    answers = await asyncio.gather(*(read_all(r, timeout=1.0) for r, _ in bodies))
    assert {parse(a)[0] for a in answers} == {503}  # their handlers never ran
    assert {await read_all(r, timeout=1.0) for r, _ in heads} == {b""}
    assert (await stuck_call) is not None
    for _, writer in [*heads, *bodies, *reading]:
        writer.close()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    cut = [r.getMessage() for r in caplog.records if "cut off" in r.getMessage()]
    assert cut == [
        "POST /rpc/limits/stuck was still running at the end of the 2.0 s drain and was cut off"
    ]


async def _post(url: str) -> BaseException | int:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json={"sku": "a"}) as resp,
        ):
            return resp.status
    except aiohttp.ClientError as exc:
        return exc
