"""The HTTP client's own HTTP/1.1: how answers end, what it refuses to send or read, its limits,
and that it runs on uvloop (what every App uses) as well as on asyncio.

The peer is a raw asyncio server on a loopback socket that answers each request with bytes
the test chooses, so each case is exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest
import uvloop

import interlink as il
from interlink._envelope import Envelope, new_id
from interlink.transport.http import HttpClient

Answer = Callable[[int], bytes | None]
"""Given the number of the request on its connection (from 1), the bytes to answer with, or
None to close the connection without answering."""


def ok(body: bytes = b'{"ok":true}', extra: str = "") -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return f"{head}{extra}\r\n".encode() + body


class RawServer:
    def __init__(self) -> None:
        self.answer: Answer = lambda n: ok()
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.closed_by_peer = 0
        self.requests: list[bytes] = []
        self.delay = 0.0
        self.close_after_answer = False
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
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        served = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    self.closed_by_peer += 1
                    return
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                served += 1
                if self.delay:
                    await asyncio.sleep(self.delay)
                answer = self.answer(served)
                if answer is None:
                    return
                writer.write(answer)
                await writer.drain()
                if self.close_after_answer:
                    return
        finally:
            self.open_now -= 1
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    started = RawServer()
    await started.start()
    yield started
    await started.stop()


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    opened = HttpClient()
    yield opened
    await opened.close()


def envelope(**extra: Any) -> Envelope:
    return Envelope(id=new_id(), source="/test", type="s.m", specversion="1.0", **extra)


async def call(client: HttpClient, server: RawServer, **extra: Any) -> Any:
    outcome = await client.send(server.url, "s", "m", envelope(**extra), b"{}", timeout=5.0)
    return outcome.status, msgspec.json.decode(outcome.body)


async def test_a_sized_answer_is_read_and_the_connection_kept(
    client: HttpClient, server: RawServer
) -> None:
    assert await call(client, server) == (200, {"ok": True})
    assert await call(client, server) == (200, {"ok": True})
    assert server.connections == 1


async def test_the_request_is_one_plain_http_1_1_post(
    client: HttpClient, server: RawServer
) -> None:
    await call(client, server)
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /rpc/s/m HTTP/1.1"
    names = [line.partition(":")[0] for line in lines[1:]]
    assert names[0] == "host"
    assert {"ce-id", "ce-source", "ce-type", "ce-specversion", "content-type"} <= set(names)
    assert "user-agent" not in names
    assert "accept-encoding" not in names
    assert body == b"{}"


async def test_a_chunked_answer_is_put_together(client: HttpClient, server: RawServer) -> None:
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    server.answer = lambda n: head + b'4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    assert await call(client, server) == (200, {"a": 1})
    assert await call(client, server) == (200, {"a": 1})
    assert server.connections == 1


async def test_an_answer_that_ends_with_the_connection_is_read_to_the_end(
    client: HttpClient, server: RawServer
) -> None:
    server.answer = lambda n: b'HTTP/1.0 200 OK\r\n\r\n{"b":2}'  # no length: the close ends it
    server.close_after_answer = True
    assert await call(client, server) == (200, {"b": 2})
    assert await call(client, server) == (200, {"b": 2})
    assert server.connections == 2


async def test_connection_close_is_honoured(client: HttpClient, server: RawServer) -> None:
    server.answer = lambda n: ok(extra="connection: close\r\n")
    await call(client, server)
    await call(client, server)
    assert server.connections == 2


async def test_an_informational_answer_is_skipped(client: HttpClient, server: RawServer) -> None:
    server.answer = lambda n: b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b'{"c":3}')
    assert await call(client, server) == (200, {"c": 3})


async def test_an_error_status_is_an_outcome_not_an_exception(
    client: HttpClient, server: RawServer
) -> None:
    body = b'{"error":{"type":"X","message":"m"}}'
    server.answer = lambda n: ok(body).replace(b"200 OK", b"503 Service Unavailable")
    assert await call(client, server) == (503, {"error": {"type": "X", "message": "m"}})


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n{}", "failed mid-call"),  # cut short
        (b"this is not http\r\n\r\n", "not HTTP/1.1"),
    ],
)
async def test_a_broken_answer_is_a_call_error(
    client: HttpClient, server: RawServer, answer: bytes, match: str
) -> None:
    server.answer = lambda n: answer
    server.close_after_answer = True
    with pytest.raises(il.CallError, match=match) as caught:
        await call(client, server)
    assert not isinstance(caught.value, il.ServiceUnavailable)
    assert len(server.requests) == 1  # a fresh connection that failed is not tried again


async def test_an_answer_over_the_limit_is_refused(server: RawServer) -> None:
    small = HttpClient(max_response=100)
    server.answer = lambda n: ok(b'"' + b"x" * 200 + b'"')
    try:
        with pytest.raises(il.CallError, match="over 100 bytes"):
            await call(small, server)
    finally:
        await small.close()


@pytest.mark.parametrize("value", ["a\r\nx-injected: 1", "a\nb", "a\rb"])
async def test_a_line_break_in_a_header_is_never_sent(
    client: HttpClient, server: RawServer, value: str
) -> None:
    with pytest.raises(il.CallError, match="line break"):
        await call(client, server, datacontenttype=value)
    assert server.requests == []


async def test_no_more_connections_than_the_limit(server: RawServer) -> None:
    limited = HttpClient(max_connections=2)
    server.delay = 0.05
    try:
        results = await asyncio.gather(*(call(limited, server) for _ in range(6)))
    finally:
        await limited.close()
    assert results == [(200, {"ok": True})] * 6
    assert server.most_open <= 2


async def test_an_idle_connection_is_closed_by_the_client_after_its_keepalive(
    server: RawServer,
) -> None:
    brief = HttpClient(keepalive=0.1)
    try:
        await call(brief, server)
        await asyncio.sleep(0.3)
        assert server.closed_by_peer == 1  # we hung up; the server did not have to
        await call(brief, server)
        assert server.connections == 2
    finally:
        await brief.close()


async def test_a_call_cut_off_by_its_timeout_does_not_leave_its_connection_in_the_pool(
    client: HttpClient, server: RawServer
) -> None:
    server.delay = 0.3
    with pytest.raises(il.DeadlineExceeded):
        await client.send(server.url, "s", "m", envelope(), b"{}", timeout=0.05)
    server.delay = 0
    assert await call(client, server) == (200, {"ok": True})
    assert server.connections == 2  # the late answer went to a connection no one uses


async def test_nobody_listening_is_service_unavailable(client: HttpClient) -> None:
    with pytest.raises(il.ServiceUnavailable, match="cannot connect"):
        await client.send("http://127.0.0.1:9", "s", "m", envelope(), b"{}", timeout=5.0)


async def test_an_address_that_is_not_http_is_refused(client: HttpClient) -> None:
    with pytest.raises(il.CallError, match="not an http"):
        await client.send("ftp://127.0.0.1:21", "s", "m", envelope(), b"{}", timeout=5.0)


ON_UVLOOP = [
    test_a_sized_answer_is_read_and_the_connection_kept,
    test_a_chunked_answer_is_put_together,
    test_an_answer_that_ends_with_the_connection_is_read_to_the_end,
    test_connection_close_is_honoured,
    test_a_call_cut_off_by_its_timeout_does_not_leave_its_connection_in_the_pool,
]


@pytest.mark.parametrize("case", ON_UVLOOP, ids=[case.__name__ for case in ON_UVLOOP])
def test_the_same_on_uvloop(case: Callable[[HttpClient, RawServer], Any]) -> None:
    """Apps run on uvloop, whose transports are not asyncio's: the cases above once more."""

    async def run() -> None:
        peer, opened = RawServer(), HttpClient()
        await peer.start()
        try:
            await case(opened, peer)
        finally:
            await opened.close()
            await peer.stop()

    uvloop.run(run())
