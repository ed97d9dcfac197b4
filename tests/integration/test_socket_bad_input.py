"""The socket server facing a buggy or hostile client, written frame by frame: each bad request
is answered on its own stream, broken framing ends only that connection, and a client that does
not read its answers cannot make the server buffer them without bound."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import msgspec
import pytest

import interlink as il
from interlink.discovery import MemoryRegistry
from interlink.transport.socket import SocketServer, parse_address
from interlink.transport.socket._frame import GOAWAY, REQUEST, RESPONSE, STREAM_END, STREAM_ITEM
from tests.conformance.rpc._raw import frame, read_frame, request_header
from tests.conftest import eventually

svc = il.Service("backend")
answered = {"big": 0}
stopped: list[str] = []
BIG = 1 << 20


@svc.rpc
async def reserve(req: dict[str, int]) -> dict[str, int]:
    return req


@svc.rpc
async def big(req: dict[str, int]) -> str:
    answered["big"] += 1
    return "x" * BIG


@svc.rpc
async def forever(req: dict[str, int]) -> None:
    answered["forever"] = 1
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        stopped.append("forever")
        raise


@pytest.fixture
async def address() -> AsyncIterator[str]:
    answered["big"] = 0
    app = il.App([svc], registry=MemoryRegistry(), serve_http=False, socket=True)
    async with app:
        yield app.socket_url


async def connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parsed = parse_address(address)
    return await asyncio.open_connection(parsed.host, parsed.port, limit=4 * BIG)


def header(**attrs: str | None) -> bytes:
    fields = ["backend", "reserve", "id-1", "/raw", "backend.reserve"] + [None] * 10
    names = [
        "service",
        "method",
        "id",
        "source",
        "type",
        "deadline",
        "traceparent",
        "tracestate",
        "correlationid",
        "causationid",
        "partitionkey",
        "time",
    ]
    for name, value in attrs.items():
        fields[names.index(name)] = value
    return msgspec.msgpack.encode(fields)


@pytest.mark.parametrize(
    ("attrs", "body", "status", "kind"),
    [
        ({"id": ""}, b"{}", 400, "BadRequest"),
        ({"source": ""}, b"{}", 400, "BadRequest"),
        ({"time": "yesterday"}, b"{}", 400, "BadRequest"),
        ({"method": "nope"}, b"{}", 404, "MethodNotFound"),
        ({"deadline": "2001-01-01T00:00:00Z"}, b"{}", 504, "DeadlineExceeded"),
    ],
)
async def test_a_bad_request_is_answered_on_its_stream(
    address: str, attrs: dict[str, str], body: bytes, status: int, kind: str
) -> None:
    reader, writer = await connect(address)
    try:
        writer.write(frame(9, REQUEST, header(**attrs), body))
        stream, frame_kind, status_bytes, answer = await read_frame(reader)
        assert (stream, frame_kind) == (9, RESPONSE)
        assert (int.from_bytes(status_bytes, "big"), json.loads(answer)["error"]["type"]) == (
            status,
            kind,
        )
        writer.write(frame(11, REQUEST, header(), b'{"a": 1}'))  # the connection goes on
        assert (await read_frame(reader))[3] == b'{"a":1}'
    finally:
        writer.close()


async def test_an_unfit_correlation_id_is_replaced(address: str) -> None:
    reader, writer = await connect(address)
    try:
        writer.write(frame(1, REQUEST, header(correlationid="has space\n"), b'{"a": "x"}'))
        error = json.loads((await read_frame(reader))[3])["error"]
    finally:
        writer.close()
    assert error["type"] == "ValidationError"
    assert len(error["correlation_id"]) == 32
    assert "\n" not in error["correlation_id"]


@pytest.mark.parametrize(
    "broken",
    [
        frame(0, REQUEST, request_header("backend", "reserve"), b"{}"),  # stream 0
        frame(1, RESPONSE, b"\x00\xc8", b"{}"),  # a client does not answer
        frame(1, REQUEST, request_header("backend", "big"), b"{}")
        + frame(1, REQUEST, request_header("backend", "big"), b"{}"),  # stream 1 still in use
        frame(1, STREAM_ITEM, b"", b"{}"),  # a client sends no stream items
        frame(1, STREAM_END, b"\x00\xc8", b""),
    ],
    ids=[
        "stream-0",
        "response-from-client",
        "stream-in-use",
        "item-from-client",
        "end-from-client",
    ],
)
async def test_broken_framing_ends_only_that_connection(address: str, broken: bytes) -> None:
    reader, writer = await connect(address)
    other_reader, other_writer = await connect(address)
    try:
        writer.write(broken)
        while True:  # an answer to a first good request may come before the GOAWAY
            stream, kind, reason, _ = await read_frame(reader)
            if kind == GOAWAY:
                break
        assert stream == 0
        assert reason
        assert await reader.read() == b""
        other_writer.write(frame(1, REQUEST, header(), b'{"b": 2}'))
        assert (await read_frame(other_reader))[3] == b'{"b":2}'
    finally:
        writer.close()
        other_writer.close()


async def test_answers_a_client_does_not_read_wait_instead_of_piling_up() -> None:
    app = il.App([svc], registry=MemoryRegistry(), serve_http=False, socket=True)
    answered["big"] = 0
    async with app:
        server = app.runtime.socket_server
        assert server is not None
        reader, writer = await connect(app.socket_url)
        try:
            for stream in range(1, 60, 2):  # 30 answers of 1 MiB
                writer.write(frame(stream, REQUEST, request_header("backend", "big"), b"{}"))
            await eventually(lambda: answered["big"] == 30)
            (connection,) = server._connections
            transport = connection._transport
            assert transport is not None
            assert transport.get_write_buffer_size() <= 2 * BIG  # not 30 MiB
            for _ in range(30):  # every answer still comes once the client reads
                assert len((await read_frame(reader))[3]) == BIG + 2
        finally:
            writer.close()


async def test_a_closed_connection_cancels_its_running_handlers(address: str) -> None:
    stopped.clear()
    answered.pop("forever", None)
    _reader, writer = await connect(address)
    writer.write(frame(1, REQUEST, request_header("backend", "forever"), b"{}"))
    await eventually(lambda: answered.get("forever") == 1)
    writer.close()
    await eventually(lambda: stopped == ["forever"])


async def test_a_request_beyond_max_streams_is_refused_unprocessed() -> None:
    answered.pop("forever", None)
    app = il.App([svc], registry=MemoryRegistry(), serve_http=False, socket=True)
    async with app:
        server = SocketServer(app.runtime.inbound, "tcp://127.0.0.1:0", max_streams=2)
        await server.start()
        try:
            reader, writer = await connect(server.address)
            for stream in (1, 3, 5):
                writer.write(frame(stream, REQUEST, request_header("backend", "forever"), b"{}"))
            stream, _, status, body = await read_frame(reader)
            assert (stream, int.from_bytes(status, "big")) == (5, 503)
            assert json.loads(body)["error"]["type"] == "ServiceUnavailable"
            writer.close()
        finally:
            await server.stop(0.5)
