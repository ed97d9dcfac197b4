"""The socket transport's framing: frames cut right at any chunk boundary, oversized frames
skipped without being kept, broken framing refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interlink._envelope import Envelope
from interlink.transport.socket._frame import (
    GOAWAY,
    PING,
    REQUEST,
    RESPONSE,
    FrameReader,
    ProtocolError,
    decode_request,
    encode_frame,
    encode_request,
    envelope_of,
)


def frames(
    data: bytes, chunk: int, max_frame: int = 1 << 20
) -> list[tuple[int, int, bytes, bytes, bool]]:
    reader = FrameReader(max_frame)
    found = []
    for start in range(0, len(data), chunk):
        for f in reader.feed(data[start : start + chunk]):
            found.append((f.stream, f.kind, f.header, f.body, f.oversized))
    return found


@given(
    st.lists(st.tuples(st.integers(1, 2**31), st.binary(max_size=40), st.binary(max_size=300))),
    st.integers(1, 64),
)
def test_frames_come_out_whole_whatever_the_chunks(
    sent: list[tuple[int, bytes, bytes]], chunk: int
) -> None:
    data = b"".join(encode_frame(stream, RESPONSE, header, body) for stream, header, body in sent)
    assert frames(data, chunk) == [(s, RESPONSE, h, b, False) for s, h, b in sent]


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_an_oversized_frame_is_reported_once_and_skipped(chunk: int) -> None:
    data = (
        encode_frame(1, REQUEST, b"h", b"x" * 100)
        + encode_frame(3, REQUEST, b"h", b"y" * 10)
        + encode_frame(5, PING)
    )
    assert frames(data, chunk, max_frame=50) == [
        (1, REQUEST, b"", b"", True),
        (3, REQUEST, b"h", b"y" * 10, False),
        (5, PING, b"", b"", False),
    ]


def test_an_oversized_frame_is_not_kept_in_memory() -> None:
    reader = FrameReader(100)
    data = encode_frame(1, REQUEST, b"", b"z" * 10_000) + encode_frame(3, PING)
    (oversized,) = reader.feed(data[:5_000])
    assert (oversized.stream, oversized.oversized) == (1, True)
    assert len(reader._buffer) == 0  # its bytes are dropped as they come
    assert reader.feed(data[5_000:6_000]) == []
    (ping,) = reader.feed(data[6_000:])
    assert (ping.stream, ping.kind, ping.oversized) == (3, PING, False)


@pytest.mark.parametrize(
    "prefix",
    [
        bytes.fromhex("000000040000000163000000"),  # unknown kind 99
        bytes.fromhex("000000040000000101000005"),  # header longer than the frame
    ],
)
def test_broken_framing_is_a_protocol_error(prefix: bytes) -> None:
    with pytest.raises(ProtocolError):
        FrameReader(1 << 20).feed(prefix + b"abcd")


def test_a_request_carries_the_envelope_attributes() -> None:
    sent = Envelope(
        id="i1",
        source="/orders",
        type="backend.echo",
        specversion="1.0",
        deadline="2030-01-01T00:00:00Z",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        correlationid="c1",
        causationid="m0",
        partitionkey="k",
    )
    (frame,) = FrameReader(1 << 20).feed(encode_request(7, "backend", "echo", sent, b"{}"))
    assert (frame.stream, frame.kind, frame.body) == (7, REQUEST, b"{}")
    header = decode_request(frame.header)
    assert (header.service, header.method) == ("backend", "echo")
    received = envelope_of(header, frame.body)
    assert bytes(received.data) == b"{}"
    received.data = sent.data
    assert received == sent


def test_goaway_carries_its_reason() -> None:
    (frame,) = FrameReader(1 << 20).feed(encode_frame(0, GOAWAY, b"stopping"))
    assert (frame.stream, frame.kind, frame.header) == (0, GOAWAY, b"stopping")
