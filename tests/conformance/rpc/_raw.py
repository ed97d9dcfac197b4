"""Bad input, written by hand on each transport's wire: what a buggy or hostile client sends."""

from __future__ import annotations

import asyncio
import json
import struct

import msgspec

from interlink.transport.socket import parse_address
from interlink.transport.socket._frame import GOAWAY, PING, PONG, REQUEST, RESPONSE

_PREFIX = struct.Struct("!IIBBH")


async def _open(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    parsed = parse_address(address)
    return await asyncio.open_connection(parsed.host, parsed.port)


def frame(stream: int, kind: int, header: bytes = b"", body: bytes = b"") -> bytes:
    return _PREFIX.pack(len(header) + len(body), stream, kind, 0, len(header)) + header + body


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, int, bytes, bytes]:
    length, stream, kind, _flags, header_len = _PREFIX.unpack(await reader.readexactly(12))
    rest = await reader.readexactly(length)
    return stream, kind, rest[:header_len], rest[header_len:]


def request_header(service: str, method: str) -> bytes:
    return msgspec.msgpack.encode([service, method, "id-1", "/raw", f"{service}.{method}"])


async def socket_bodies(address: str, bodies: list[bytes]) -> list[tuple[int, str]]:
    """Each body as a request to backend.reserve on its own stream of one connection, then a
    malformed header: the status and error type of each answer. The connection still answers
    a PING after them."""
    reader, writer = await _open(address)
    try:
        for index, body in enumerate(bodies):
            writer.write(frame(2 * index + 1, REQUEST, request_header("backend", "reserve"), body))
        last = 2 * len(bodies) + 1
        writer.write(frame(last, REQUEST, b"\xc1not msgpack", b"{}"))
        answers = []
        for _ in range(len(bodies) + 1):
            stream, kind, header, body = await read_frame(reader)
            assert kind == RESPONSE
            answers.append((stream, int.from_bytes(header, "big"), json.loads(body)))
        writer.write(frame(last + 2, PING))
        assert (await read_frame(reader))[:2] == (last + 2, PONG)
    finally:
        writer.close()
    answers.sort()
    return [(status, body["error"]["type"]) for _, status, body in answers]


async def socket_broken(address: str) -> bool:
    """A frame of an unknown kind: answered with GOAWAY, then the connection is closed."""
    reader, writer = await _open(address)
    try:
        writer.write(_PREFIX.pack(4, 1, 99, 0, 0) + b"junk")
        stream, kind, reason, _ = await read_frame(reader)
        assert (stream, kind) == (0, GOAWAY), (stream, kind)
        assert reason
        return await reader.read() == b""
    finally:
        writer.close()


async def http_bodies(url: str, bodies: list[bytes]) -> list[tuple[int, str]]:
    """Each body POSTed to backend.reserve: the status and error type of each answer."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    answers = []
    for body in bodies:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(
                b"POST /rpc/backend/reserve HTTP/1.1\r\nhost: x\r\ncontent-type: application/json"
                b"\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
            )
            raw = await reader.read()
        finally:
            writer.close()
        head, _, payload = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        answers.append((status, json.loads(payload)["error"]["type"]))
    return answers


async def http_broken(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"\x00\x01 GARBAGE \xff\r\n\r\n")
        raw = await reader.read()
    finally:
        writer.close()
    return raw == b"" or raw.startswith(b"HTTP/1.1 400")


async def grpc_bodies(address: str, bodies: list[bytes]) -> list[tuple[int, str]]:
    """Each body as a JSON message to backend.reserve (``interlink-codec: json``), then bytes
    that are no protobuf message: the status and error type of each answer (from the trailing
    metadata), the last one's gRPC code checked to be INVALID_ARGUMENT."""
    import grpc

    answers = []
    async with grpc.aio.insecure_channel(address) as channel:
        reserve = channel.unary_unary("/interlink.backend/reserve")
        calls = [(body, (("interlink-codec", "json"),)) for body in bodies]
        for body, metadata in [*calls, (b"\xff\xff\xff\xff", ())]:
            try:
                await reserve(body, metadata=metadata, timeout=10)
                raise AssertionError("a malformed request was answered with OK")
            except grpc.aio.AioRpcError as exc:
                trailing = dict(exc.trailing_metadata())
                error = json.loads(trailing["interlink-error-bin"])["error"]
                answers.append((int(trailing["interlink-status"]), error["type"]))
                last_code = exc.code()
    assert last_code == grpc.StatusCode.INVALID_ARGUMENT
    return answers


async def grpc_broken(address: str) -> bool:
    """Bytes that are no HTTP/2 connection preface: the server closes that connection."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"\x00\x01 GARBAGE \xff\r\n\r\n" * 4)
        await reader.read()  # whatever it answers (a GOAWAY frame), it ends with EOF
        return True
    finally:
        writer.close()
