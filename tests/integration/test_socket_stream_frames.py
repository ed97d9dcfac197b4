"""The streaming frames of the socket transport as docs/transports.md states them, written by
hand: STREAM_OPEN answered with STREAM_ITEMs and a STREAM_END of status 200 while the reader
gives credit back with WINDOW; a STREAM_OPEN the server refuses (a unary handler, an unknown
method) answered with a RESPONSE carrying the error; a WINDOW for no running stream ignored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

import interlink as il
from interlink.discovery import MemoryRegistry
from interlink.transport.socket import parse_address
from interlink.transport.socket._frame import (
    REQUEST,
    RESPONSE,
    STREAM_END,
    STREAM_ITEM,
    STREAM_OPEN,
    WINDOW,
)
from tests.conformance.rpc._raw import frame, read_frame, request_header

svc = il.Service("backend")


@svc.rpc
async def count(req: dict[str, int]) -> AsyncIterator[int]:
    for i in range(req["to"]):
        yield i


@svc.rpc
async def reserve(req: dict[str, int]) -> dict[str, int]:
    return req


@pytest.fixture
async def address() -> AsyncIterator[str]:
    app = il.App([svc], registry=MemoryRegistry(), serve_http=False, socket=True)
    async with app:
        yield app.socket_url


async def connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parsed = parse_address(address)
    return await asyncio.open_connection(parsed.host, parsed.port)


def credit(items: int) -> bytes:
    return items.to_bytes(4, "big")


async def test_a_stream_is_items_then_an_end_of_status_200_with_credit_given_back(
    address: str,
) -> None:
    reader, writer = await connect(address)
    try:
        writer.write(frame(1, STREAM_OPEN, request_header("backend", "count"), b'{"to": 40}'))
        items = []
        async with asyncio.timeout(20):
            while True:
                stream, kind, header, body = await read_frame(reader)
                assert stream == 1
                if kind == STREAM_END:
                    break
                assert kind == STREAM_ITEM
                items.append(json.loads(body))
                if len(items) % 8 == 0:
                    writer.write(frame(1, WINDOW, credit(8)))
        assert items == list(range(40))
        assert (int.from_bytes(header, "big"), body) == (200, b"")
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("method", "status", "error"),
    [("reserve", 400, "BadRequest"), ("nowhere", 404, "MethodNotFound")],
)
async def test_a_refused_stream_open_is_answered_with_a_response(
    address: str, method: str, status: int, error: str
) -> None:
    reader, writer = await connect(address)
    try:
        writer.write(frame(3, STREAM_OPEN, request_header("backend", method), b'{"to": 1}'))
        stream, kind, header, body = await read_frame(reader)
        assert (stream, kind, int.from_bytes(header, "big")) == (3, RESPONSE, status)
        assert json.loads(body)["error"]["type"] == error
        writer.write(frame(5, REQUEST, request_header("backend", "reserve"), b'{"a": 1}'))
        assert (await read_frame(reader))[3] == b'{"a":1}'  # the connection goes on
    finally:
        writer.close()


async def test_a_window_for_no_running_stream_is_ignored(address: str) -> None:
    reader, writer = await connect(address)
    try:
        writer.write(frame(7, WINDOW, credit(16)))
        writer.write(frame(9, REQUEST, request_header("backend", "reserve"), b'{"b": 2}'))
        stream, kind, _, body = await read_frame(reader)
        assert (stream, kind, body) == (9, RESPONSE, b'{"b":2}')
    finally:
        writer.close()
