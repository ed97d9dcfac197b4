"""Streaming RPCs as any HTTP client sees them: NDJSON lines, or SSE events on Accept."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from tests.conformance.rpc._stream_services import reset_streams
from tests.conformance.rpc.conftest import System, serve


@pytest.fixture
async def http() -> AsyncIterator[System]:
    reset_streams()
    async for found in serve("http"):
        yield found


async def post(system: System, path: str, body: dict[str, object], accept: str) -> bytes:
    """POST with a plain socket (HTTP/1.0: the answer ends with the connection)."""
    assert system.server is not None
    url = urlsplit(system.server.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    data = json.dumps(body).encode()
    writer.write(
        f"POST {path} HTTP/1.0\r\nhost: {url.netloc}\r\ncontent-type: application/json\r\n"
        f"accept: {accept}\r\ncontent-length: {len(data)}\r\n\r\n".encode()
        + data
    )
    try:
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return head + b"\r\n\r\n" + body


def dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]


async def test_ndjson_lines_carry_results_then_the_error(http: System) -> None:
    answer = await post(http, "/rpc/backend/count", {"n": 3, "fail_at": 2}, "application/x-ndjson")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"content-type: application/x-ndjson" in head.lower()
    lines = [json.loads(line) for line in body.splitlines()]
    assert lines[:2] == [{"result": {"i": 0, "pad": ""}}, {"result": {"i": 1, "pad": ""}}]
    assert lines[2]["status"] == 409
    assert lines[2]["error"]["type"] == "OutOfStock"
    assert len(lines) == 3


async def test_sse_events_when_the_client_asks(http: System) -> None:
    answer = await post(http, "/rpc/backend/count", {"n": 2}, "text/event-stream")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: text/event-stream" in head.lower()
    assert body == (
        b'event: item\ndata: {"i":0,"pad":""}\n\nevent: item\ndata: {"i":1,"pad":""}\n\n'
    )


async def test_a_failure_before_the_first_item_is_a_plain_error_answer(http: System) -> None:
    answer = await post(http, "/rpc/backend/count", {"n": "x"}, "application/x-ndjson")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 422")
    assert json.loads(body)["error"]["type"] == "ValidationError"


async def test_without_a_streaming_accept_it_is_refused_as_a_plain_call(http: System) -> None:
    answer = await post(http, "/rpc/backend/count", {"n": 1}, "application/json")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert "stream" in json.loads(body)["error"]["message"]
