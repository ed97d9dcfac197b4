"""The CloudEvents HTTP binding of the envelope, both ways, without a server."""

from __future__ import annotations

import re

import msgspec
import pytest

from interlink import CodecError, Envelope
from interlink._envelope_http import decode_value, encode_value, to_headers


def make(**extra: str) -> Envelope:
    return Envelope(id="e1", source="/orders", type="orders.placed", specversion="1.0", **extra)


def test_binary_mode_headers_round_trip() -> None:
    envelope = make(
        correlationid="c1",
        traceparent="00-12345678901234567890123456789012-1234567890123456-01",
        tracestate="rojo=1",
        time="2030-01-01T00:00:00.000Z",
        partitionkey='a key, with "quotes" and 100% €',
        data=msgspec.Raw(b'{"a":1}'),
    )
    headers = to_headers(envelope)
    assert headers["ce-partitionkey"] == "a%20key,%20with%20%22quotes%22%20and%20100%25%20%E2%82%AC"
    assert headers["traceparent"] == envelope.traceparent
    assert headers["tracestate"] == "rojo=1"
    assert "ce-traceparent" not in headers
    assert headers["content-type"] == "application/json"
    assert Envelope.from_http(headers.items(), b'{"a":1}', default_type="x") == envelope


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("Euro € 😀", "Euro%20%E2%82%AC%20%F0%9F%98%80"),  # the binding's own example
        ('say "hi"', "say%20%22hi%22"),
        ("100%", "100%25"),
        ("plain-!#$&'()*+,/:;<=>?@[]^_`{|}~", "plain-!#$&'()*+,/:;<=>?@[]^_`{|}~"),
    ],
)
def test_values_are_percent_encoded_where_the_binding_says(value: str, encoded: str) -> None:
    assert encode_value(value) == encoded
    assert decode_value("subject", encoded) == value


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("Euro%20%e2%82%ac", "Euro €"),  # lowercase hex is accepted
        ("%41%42", "AB"),  # needlessly encoded characters are accepted
        ('"quoted value"', "quoted value"),  # an older sender's quoted string
        ('"with \\"escapes\\""', 'with "escapes"'),
        ("  padded\t", "padded"),  # optional whitespace is not part of the value
        ("%2541", "%41"),  # exactly one round of decoding
    ],
)
def test_header_values_are_unquoted_then_decoded_once(raw: str, value: str) -> None:
    assert decode_value("subject", raw) == value


@pytest.mark.parametrize(
    ("name", "raw", "error"),
    [
        ("subject", "%C0%A0", "not UTF-8"),  # an overlong encoding of a space
        ("subject", "%FF", "not UTF-8"),
        ("subject", "50%", "%XX escape"),
        ("subject", "%zz", "%XX escape"),
        ("subject", "café", "percent-encoded"),
        ("subject", "a%00b", "control characters"),
        ("subject", "tab%09", "control characters"),
        ("Subject_1", "x", "lowercase letters and digits"),
        ("foo-bar", "x", "lowercase letters and digits"),
        ("data", "x", "no attribute"),
    ],
)
def test_bad_header_values_and_names_are_codec_errors(name: str, raw: str, error: str) -> None:
    with pytest.raises(CodecError, match=error):
        decode_value(name, raw)


def binary(**headers: str) -> Envelope:
    return Envelope.from_http(
        [(k.replace("_", "-"), v) for k, v in headers.items()], b"{}", default_type="s.m"
    )


def test_a_plain_request_gets_fresh_attributes() -> None:
    envelope = binary(content_type="application/json")
    assert (envelope.type, envelope.source, envelope.specversion) == ("s.m", "/http", "1.0")
    assert len(envelope.id) == 32
    assert envelope.datacontenttype is None


def test_header_names_are_case_insensitive() -> None:
    envelope = binary(**{"CE-Subject": "x", "Ce-CorrelationId": "c"})
    assert (envelope.subject, envelope.correlationid) == ("x", "c")


def test_content_type_is_the_datacontenttype() -> None:
    assert binary(content_type="application/json; charset=utf-8").datacontenttype == (
        "application/json; charset=utf-8"
    )
    assert to_headers(make(datacontenttype="text/plain"))["content-type"] == "text/plain"


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"ce_specversion": "0.3", "ce_id": "1", "ce_source": "/s", "ce_type": "t"}, "0.3"),
        ({"ce_specversion": "1.0", "ce_source": "/s", "ce_type": "t"}, "needs ce-id"),
        ({"ce_specversion": "1.0", "ce_id": "1"}, "needs ce-source, ce-type"),
        ({"ce_datacontenttype": "application/json"}, "as Content-Type"),
        ({"ce_time": "2030-01-01"}, "RFC 3339"),
        ({"ce_foo_bar": "1"}, "lowercase letters and digits"),
    ],
)
def test_invalid_binary_events_are_codec_errors(headers: dict[str, str], error: str) -> None:
    with pytest.raises(CodecError, match=error):
        binary(**headers)


def test_a_header_given_twice_is_a_codec_error() -> None:
    with pytest.raises(CodecError, match="twice"):
        Envelope.from_http([("ce-id", "1"), ("CE-ID", "2")], b"", default_type="s.m")


def test_unknown_valid_extensions_are_accepted() -> None:
    assert binary(ce_myextension1="x", ce_subject="s").subject == "s"


STRUCTURED = [("content-type", "application/cloudevents+json; charset=UTF-8")]


def test_structured_mode_takes_attributes_and_data_from_the_body() -> None:
    body = (
        b'{"specversion":"1.0","id":"e9","source":"/sdk","type":"s.m","subject":"x",'
        b'"traceparent":"00-12345678901234567890123456789012-1234567890123456-01",'
        b'"myext":7,"data":{"a":[1,2]}}'
    )
    envelope = Envelope.from_http([*STRUCTURED, ("ce-id", "ignored")], body, default_type="s.m")
    assert (envelope.id, envelope.source, envelope.subject) == ("e9", "/sdk", "x")
    assert bytes(envelope.data) == b'{"a":[1,2]}'
    assert envelope.traceparent == "00-12345678901234567890123456789012-1234567890123456-01"


def test_structured_mode_ignores_ce_headers_even_invalid_ones() -> None:
    body = b'{"specversion":"1.0","id":"e","source":"/s","type":"t","subject":"from body"}'
    headers = [*STRUCTURED, ("ce-subject", "100%"), ("ce-Bad_Name", "x")]
    assert Envelope.from_http(headers, body, default_type="").subject == "from body"


def test_structured_mode_a_traceparent_header_wins_over_the_attribute() -> None:
    body = b'{"specversion":"1.0","id":"e","source":"/s","type":"t","traceparent":"attr"}'
    header = "00-12345678901234567890123456789012-1234567890123456-01"
    envelope = Envelope.from_http([*STRUCTURED, ("traceparent", header)], body, default_type="")
    assert envelope.traceparent == header


def test_structured_mode_data_base64_is_the_payload() -> None:
    body = b'{"specversion":"1.0","id":"e","source":"/s","type":"t","data_base64":"eyJhIjoxfQ=="}'
    assert bytes(Envelope.from_http(STRUCTURED, body, default_type="").data) == b'{"a":1}'


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "not a CloudEvents envelope"),
        (b"[1]", "not a CloudEvents envelope"),
        (b'{"specversion":"0.3","id":"e","source":"/s","type":"t"}', "specversion '0.3'"),
        (b'{"specversion":"1.0","id":"","source":"/s","type":"t"}', "'id' must not be empty"),
        (b'{"specversion":"1.0","id":"e","source":"/s","type":"t","Bad":1}', "'Bad'"),
        (b'{"specversion":"1.0","id":"e","source":"/s","type":"t","my_ext":1}', "'my_ext'"),
        (b'{"specversion":"1.0","id":1,"source":"/s","type":"t"}', "not a CloudEvents envelope"),
        (b'{"specversion":"1.0","id":"e","source":"/s","type":"t","time":"today"}', "RFC 3339"),
        (
            b'{"specversion":"1.0","id":"e","source":"/s","type":"t","data":1,"data_base64":"MQ=="}',
            "not both",
        ),
        (b'{"specversion":"1.0","id":"e","source":"/s","type":"t","data_base64":"!"}', "base64"),
    ],
)
def test_invalid_structured_events_are_codec_errors(body: bytes, error: str) -> None:
    with pytest.raises(CodecError, match=error):
        Envelope.from_http(STRUCTURED, body, default_type="s.m")


def test_interlinks_own_attribute_names_are_valid_and_short() -> None:
    names = [name for name in Envelope.__struct_fields__ if name != "data"]
    for name in names:
        assert re.fullmatch(r"[a-z0-9]{1,20}", name), name
