from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from interlink import CodecError, Envelope
from interlink._envelope import format_time, parse_time
from interlink._tracecontext import child_traceparent, new_traceparent


def make(**extra: str) -> Envelope:
    return Envelope(
        id="e1",
        source="/orders",
        type="orders.placed",
        specversion="1.0",
        data=msgspec.Raw(b'{"a":1}'),
        **extra,
    )


def test_structured_mode_round_trip_keeps_data_raw() -> None:
    envelope = make(correlationid="c1", partitionkey="k", deadline="2030-01-01T00:00:00.000Z")
    raw = envelope.to_bytes()
    decoded = msgspec.json.decode(raw)
    assert decoded["specversion"] == "1.0"
    assert decoded["data"] == {"a": 1}
    assert Envelope.from_bytes(raw) == envelope


def test_binary_mode_headers_round_trip() -> None:
    envelope = make(
        correlationid="c1", traceparent=new_traceparent(), time="2030-01-01T00:00:00.000Z"
    )
    headers = envelope.http_headers()
    assert headers["ce-id"] == "e1"
    assert headers["ce-specversion"] == "1.0"
    assert headers["traceparent"] == envelope.traceparent
    assert headers["content-type"] == "application/json"
    back = Envelope.from_http(headers.items(), b'{"a":1}', default_type="x")
    assert back == envelope


def test_plain_http_request_gets_fresh_attributes() -> None:
    envelope = Envelope.from_http([("content-type", "application/json")], b"{}", default_type="s.m")
    assert envelope.type == "s.m"
    assert len(envelope.id) == 32
    assert envelope.correlationid is None


@pytest.mark.parametrize(
    "raw", [b"not json", b'{"id": "x"}', b'{"id":"x","source":"s","type":"t","specversion":"0.3"}']
)
def test_bad_envelopes_are_codec_errors(raw: bytes) -> None:
    with pytest.raises(CodecError):
        Envelope.from_bytes(raw)


def test_traceparent_keeps_trace_and_makes_new_span() -> None:
    parent = new_traceparent()
    child = child_traceparent(parent)
    assert child[3:35] == parent[3:35]
    assert child[36:52] != parent[36:52]
    assert len(child) == 55


@given(st.floats(min_value=0, max_value=4_000_000_000))
def test_time_format_round_trips_to_the_millisecond(epoch: float) -> None:
    assert abs(parse_time(format_time(epoch)) - epoch) < 0.0011


def test_bad_deadline_is_a_codec_error() -> None:
    with pytest.raises(CodecError, match="RFC 3339"):
        _ = make(deadline="tomorrow").deadline_at


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2030-01-01T00:00:00Z", 1893456000.0),
        ("2030-01-01t00:00:00z", 1893456000.0),
        ("2030-01-01T00:00:00.5Z", 1893456000.5),
        ("2030-01-01T01:30:00+01:30", 1893456000.0),
        ("2029-12-31T23:00:00-01:00", 1893456000.0),
        ("2029-12-31T23:59:60Z", 1893456000.0),  # a leap second counts as the next second
        ("2024-02-29T00:00:00.123456789Z", 1709164800.123456789),
    ],
)
def test_rfc3339_times_with_a_zone_are_read(text: str, epoch: float) -> None:
    assert parse_time(text) == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        "2030-01-01",  # a date alone
        "2030-W01-1T00:00:00Z",  # a week date
        "2030-001T00:00:00Z",  # an ordinal date
        "2030-01-01T00:00:00",  # no zone: a naive local time
        "2030-01-01 00:00:00Z",  # a space for T
        "2030-01-01T00:00:00+0100",  # offset without a colon
        "2030-01-01T00:00Z",  # no seconds
        "20300101T000000Z",  # basic format
        "2030-01-01T00:00:00.Z",  # an empty fraction
        "2030-02-30T00:00:00Z",  # no such day
        "2030-13-01T00:00:00Z",
        "2030-01-01T24:00:00Z",
        "2030-01-01T00:60:00Z",
        "2030-01-01T00:00:61Z",
        "2030-01-01T00:00:00+24:00",
        "٢٠٣٠-01-01T00:00:00Z",  # digits, but not ASCII ones
        "tomorrow",
    ],
)
def test_anything_but_rfc3339_with_a_zone_is_refused(text: str) -> None:
    with pytest.raises(CodecError, match="RFC 3339"):
        parse_time(text)
