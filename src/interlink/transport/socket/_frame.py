"""The socket transport's frames: a fixed 12-byte prefix, a msgpack header, then the body.

::

    u32 length     bytes after the prefix (header + body), big-endian
    u32 stream     the call this frame belongs to; 0 for the connection itself
    u8  kind       REQUEST, RESPONSE, CANCEL, PING, PONG, GOAWAY, or for a streaming call
                   STREAM_OPEN, STREAM_ITEM, STREAM_END and WINDOW
    u8  flags      reserved, 0
    u16 header     bytes of the header (a request's envelope attributes, a response's status,
                   a GOAWAY's reason), msgpack
    ...            header, then body (a request's or a response's JSON payload)

The stream id sits in the fixed prefix so that a frame whose header is malformed or whose
size is over the limit can still be answered on its own stream: the reader skips its bytes
without keeping them, and the connection goes on.
"""

from __future__ import annotations

import struct
from typing import Final

import msgspec

from interlink._envelope import Envelope

__all__ = [
    "CANCEL",
    "GOAWAY",
    "KINDS",
    "PING",
    "PONG",
    "PREFIX",
    "REQUEST",
    "RESPONSE",
    "STREAM_END",
    "STREAM_ITEM",
    "STREAM_OPEN",
    "WINDOW",
    "Frame",
    "FrameReader",
    "ProtocolError",
    "RequestHeader",
    "encode_frame",
    "encode_request",
    "envelope_of",
]

REQUEST: Final = 1
RESPONSE: Final = 2
CANCEL: Final = 3
PING: Final = 4
PONG: Final = 5
GOAWAY: Final = 6
STREAM_OPEN: Final = 7
"""A request for a streaming call (header and body as REQUEST's)."""
STREAM_ITEM: Final = 8
"""One item of a streaming call's answer (the body)."""
STREAM_END: Final = 9
"""The end of a streaming call's answer: its status (header) and, on failure, the error body."""
WINDOW: Final = 10
"""The reader of a stream took this many more items (a u32 header): the server may send as
many more."""
KINDS: Final = frozenset(
    {REQUEST, RESPONSE, CANCEL, PING, PONG, GOAWAY, STREAM_OPEN, STREAM_ITEM, STREAM_END, WINDOW}
)

_PREFIX = struct.Struct("!IIBBH")
PREFIX: Final = _PREFIX.size
_pack = _PREFIX.pack
_unpack_from = _PREFIX.unpack_from


class ProtocolError(Exception):
    """The peer broke the framing: the connection cannot be read any further."""


class RequestHeader(msgspec.Struct, array_like=True, omit_defaults=True):
    """Where a call goes and its envelope's attributes (the payload is the body)."""

    service: str
    method: str
    id: str
    source: str
    type: str
    deadline: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    correlationid: str | None = None
    causationid: str | None = None
    partitionkey: str | None = None
    time: str | None = None
    subject: str | None = None
    replyto: str | None = None
    datacontenttype: str | None = None


_encode_header = msgspec.msgpack.Encoder().encode
_decode_request = msgspec.msgpack.Decoder(RequestHeader).decode


def encode_frame(stream: int, kind: int, header: bytes = b"", body: bytes = b"") -> bytes:
    return _pack(len(header) + len(body), stream, kind, 0, len(header)) + header + body


def encode_request(
    stream: int, service: str, method: str, envelope: Envelope, body: bytes, kind: int = REQUEST
) -> bytes:
    header = _encode_header(
        RequestHeader(
            service,
            method,
            envelope.id,
            envelope.source,
            envelope.type,
            envelope.deadline,
            envelope.traceparent,
            envelope.tracestate,
            envelope.correlationid,
            envelope.causationid,
            envelope.partitionkey,
            envelope.time,
            envelope.subject,
            envelope.replyto,
            envelope.datacontenttype,
        )
    )
    if len(header) > 0xFFFF:
        raise ValueError("the envelope's attributes take more than 64 KiB")
    return _pack(len(header) + len(body), stream, kind, 0, len(header)) + header + body


def decode_request(header: bytes) -> RequestHeader:
    """msgspec errors (DecodeError, ValidationError) when the header is malformed."""
    return _decode_request(header)


def envelope_of(header: RequestHeader, body: bytes) -> Envelope:
    return Envelope(
        id=header.id,
        source=header.source,
        type=header.type,
        specversion="1.0",
        time=header.time,
        datacontenttype=header.datacontenttype,
        subject=header.subject,
        traceparent=header.traceparent,
        tracestate=header.tracestate,
        correlationid=header.correlationid,
        causationid=header.causationid,
        partitionkey=header.partitionkey,
        deadline=header.deadline,
        replyto=header.replyto,
        data=msgspec.Raw(body),
    )


class Frame:
    """One received frame. ``oversized``: its bytes were skipped, header and body are empty."""

    __slots__ = ("body", "header", "kind", "oversized", "stream")

    def __init__(
        self, stream: int, kind: int, header: bytes, body: bytes, oversized: bool = False
    ) -> None:
        self.stream = stream
        self.kind = kind
        self.header = header
        self.body = body
        self.oversized = oversized


class FrameReader:
    """Cuts the byte stream into frames, keeping at most ``max_frame`` bytes of one frame.

    A frame over ``max_frame`` is skipped as its bytes arrive and reported once, oversized.
    A frame whose header length exceeds its length, or of an unknown kind, is a
    :class:`ProtocolError`: nothing after it can be trusted.
    """

    __slots__ = ("_buffer", "_max_frame", "_skipping")

    def __init__(self, max_frame: int) -> None:
        self._buffer = bytearray()
        self._max_frame = max_frame
        self._skipping = 0

    def feed(self, data: bytes) -> list[Frame]:
        if self._skipping:
            if len(data) <= self._skipping:
                self._skipping -= len(data)
                return []
            data = data[self._skipping :]
            self._skipping = 0
        buffer = self._buffer
        if not buffer:  # the common case: cut straight from what arrived, no copy to a buffer
            frames, used = self._cut(data)
            if used < len(data) and not self._skipping:
                buffer += data[used:]
            return frames
        buffer += data
        if len(buffer) >= PREFIX:
            length = _unpack_from(buffer)[0]
            if length <= self._max_frame and len(buffer) - PREFIX < length:
                return []  # a large frame still arriving: copy it out once, when whole
        frames, used = self._cut(bytes(buffer))
        del buffer[:used]
        if self._skipping:
            buffer.clear()
        return frames

    def _cut(self, data: bytes) -> tuple[list[Frame], int]:
        """The whole frames at the start of ``data``, and how many bytes they took (an
        oversized frame's bytes that have not arrived yet are left in ``_skipping``)."""
        frames: list[Frame] = []
        start = 0
        end = len(data)
        while end - start >= PREFIX:
            length, stream, kind, _flags, header_len = _unpack_from(data, start)
            if kind not in KINDS or header_len > length:
                raise ProtocolError(f"a frame of kind {kind} with a bad header length")
            at = start + PREFIX
            if length > self._max_frame:
                frames.append(Frame(stream, kind, b"", b"", oversized=True))
                if end - at >= length:
                    start = at + length
                    continue
                self._skipping = length - (end - at)
                return frames, end
            if end - at < length:
                break
            frames.append(
                Frame(stream, kind, data[at : at + header_len], data[at + header_len : at + length])
            )
            start = at + length
        return frames, start
