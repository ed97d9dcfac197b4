"""Pooled keep-alive connections: the client lets an idle one go before the server does, and a
call that meets a connection the server already gave up is sent again, once, on a new one.

The server here is a real HTTP/1.1 server on a loopback socket. Its ``give_up_idle`` closes
every idle connection the way a server whose keep-alive ran out does, except that the client
learns of it only when its next request arrives: the close crosses that request on the wire,
which is what happens when the two fall in the same instant. That makes the race exact
instead of a matter of timing.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from typing import Literal

import msgspec
import pytest

import interlink as il
from interlink._envelope import Envelope, new_id
from interlink.transport.http import HttpClient
from interlink.transport.http._client import CLIENT_KEEPALIVE, SERVER_KEEPALIVE

Drop = Literal["close", "reset"]
Action = Literal["answer", "hang up", "run, then hang up", "run, then half answer"]


class KeepAliveServer:
    """Answers ``POST``s with ``{"n": <handled so far>}`` and keeps the connection open.

    ``script`` says what to do with the next requests instead of answering: hang up without
    running the handler, run it and hang up, or run it and send only the status line.
    """

    def __init__(self) -> None:
        self.handled = 0
        """Requests whose handler ran."""
        self.received = 0
        """Requests that reached the server, the dropped ones included."""
        self.connections = 0
        self.script: list[Action] = []
        self._idle: set[asyncio.StreamWriter] = set()
        self._given_up: dict[asyncio.StreamWriter, Drop] = {}
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.close()
        await self._server.wait_closed()

    def give_up_idle(self, how: Drop) -> None:
        """Every idle connection is closed (a FIN) or reset (a RST), as its next request lands."""
        self._given_up.update(dict.fromkeys(self._idle, how))
        self._idle.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._open.add(writer)
        try:
            while await _read_request(reader):
                self.received += 1
                self._idle.discard(writer)
                if writer in self._given_up:
                    _drop(writer, self._given_up.pop(writer))
                    return
                if not self._respond(writer):
                    return
                self._idle.add(writer)
        finally:
            self._idle.discard(writer)
            self._open.discard(writer)
            writer.close()

    def _respond(self, writer: asyncio.StreamWriter) -> bool:
        """Run the handler and answer as scripted; False when the connection is to end."""
        action = self.script.pop(0) if self.script else "answer"
        if action == "hang up":
            return False
        self.handled += 1
        if action == "run, then hang up":
            return False
        if action == "run, then half answer":
            writer.write(b"HTTP/1.1 200 OK\r\n")
            return False
        body = msgspec.json.encode({"n": self.handled})
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        return True


async def _read_request(reader: asyncio.StreamReader) -> bool:
    """Read one request; False at the end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return False
    length = 0
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return True


def _drop(writer: asyncio.StreamWriter, how: Drop) -> None:
    if how == "reset":  # a zero linger makes close() send a RST instead of a FIN
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


@pytest.fixture
async def server() -> AsyncIterator[KeepAliveServer]:
    started = KeepAliveServer()
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    opened = HttpClient()
    try:
        yield opened
    finally:
        await opened.close()


async def place(client: HttpClient, server: KeepAliveServer) -> int:
    """One non-idempotent call (a POST); returns the server's count of handled requests."""
    body = b'{"order": "o1"}'
    envelope = Envelope(id=new_id(), source="/test", type="orders.place", specversion="1.0")
    outcome = await client.send(server.url, "orders", "place", envelope, body, timeout=10.0)
    assert outcome.status == 200
    answer: dict[str, int] = msgspec.json.decode(outcome.body)
    return answer["n"]


@pytest.mark.parametrize("how", ["close", "reset"])
async def test_a_call_on_a_connection_the_server_gave_up_goes_again_and_runs_once(
    client: HttpClient, server: KeepAliveServer, how: Drop
) -> None:
    # Two pooled connections, both given up: a retry on the pool would meet the other one.
    assert sorted(await asyncio.gather(place(client, server), place(client, server))) == [1, 2]
    assert server.connections == 2
    server.give_up_idle(how)

    assert await place(client, server) == 3

    assert server.handled == 3  # one run per call: the dropped request never reached a handler
    assert server.received == 4  # the dropped request, then the same request once more
    assert server.connections == 3  # ... on a new connection


async def test_the_call_goes_again_only_once(client: HttpClient, server: KeepAliveServer) -> None:
    await place(client, server)
    server.give_up_idle("close")
    server.script = ["hang up"]  # the new connection is dropped too

    with pytest.raises(il.CallError, match="failed mid-call") as caught:
        await place(client, server)

    assert not caught.value.not_processed
    assert (server.received, server.handled) == (3, 1)


async def test_a_new_connection_lost_before_the_answer_is_not_sent_again(
    client: HttpClient, server: KeepAliveServer
) -> None:
    server.script = ["run, then hang up"]

    with pytest.raises(il.CallError, match="failed mid-call"):
        await place(client, server)

    assert (server.received, server.handled) == (1, 1)


async def test_a_pooled_connection_lost_after_part_of_the_answer_is_not_sent_again(
    client: HttpClient, server: KeepAliveServer
) -> None:
    await place(client, server)
    server.script = ["run, then half answer"]

    with pytest.raises(il.CallError, match="failed mid-call"):
        await place(client, server)

    assert (server.received, server.handled) == (2, 2)


async def test_an_app_call_after_the_server_gave_up_the_idle_connection_succeeds(
    server: KeepAliveServer,
) -> None:
    address = server.url.removeprefix("http://")
    async with il.App(
        [il.Service("c")], registry=f"static:orders={address}", serve_http=False
    ) as app:
        assert await app.call("orders.place", {"order": "o1"}) == {"n": 1}
        server.give_up_idle("reset")
        assert await app.call("orders.place", {"order": "o2"}) == {"n": 2}

    assert (server.received, server.handled) == (3, 2)


async def test_the_client_lets_an_idle_connection_go_before_the_server_does() -> None:
    async with il.App([il.Service("s")], port=0) as app:
        server = app.runtime.server
        assert server is not None
        assert server._server is not None
        assert server._server.config.timeout_keep_alive == SERVER_KEEPALIVE
        assert app.runtime.http._keepalive == CLIENT_KEEPALIVE < SERVER_KEEPALIVE
