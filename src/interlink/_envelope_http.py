"""The envelope on HTTP: the CloudEvents 1.0 HTTP protocol binding, both ways.

interlink sends *binary* mode: each attribute in a ``ce-{name}`` header, percent-encoded where
the binding requires it (space, ``"``, ``%`` and everything outside printable ASCII, as UTF-8
bytes), ``datacontenttype`` as ``Content-Type``, the payload as the body, and the trace in the
W3C ``traceparent`` and ``tracestate`` headers (on one hop these carry what the
distributed-tracing extension would, so no ``ce-traceparent`` is sent).

It accepts both modes. Binary: header names are case-insensitive; a value may be a quoted
string, then it is percent-decoded once (``%XX`` in either case; bytes that are not UTF-8 are
refused); attribute names must be lowercase letters and digits; ``ce-datacontenttype`` is
refused (``Content-Type`` carries it). A request with ``ce-specversion`` is a CloudEvent and
must be a valid 1.0 one; without it, it is a plain HTTP request and gets fresh ids. Structured
(``Content-Type: application/cloudevents+json``): the body is the event in the JSON format and
its ``data`` is the payload. In both, a ``traceparent`` header (the hop's trace) wins over the
event's ``traceparent`` attribute, and ``tracestate`` goes with whichever is used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote_to_bytes

import msgspec

from interlink._envelope import ATTRIBUTE_NAME, Envelope, check_attributes, new_id
from interlink._errors import CodecError

__all__ = ["STRUCTURED", "decode_value", "encode_value", "from_asgi", "from_http", "to_headers"]

STRUCTURED = "application/cloudevents+json"
_JSON = "application/json"
_OWS = " \t"
_HEADER_ATTRS = (
    "id",
    "source",
    "type",
    "specversion",
    "time",
    "subject",
    "correlationid",
    "causationid",
    "partitionkey",
    "deadline",
    "replyto",
)
_OPTIONAL_ATTRS = _HEADER_ATTRS[4:]
_KNOWN = frozenset(_HEADER_ATTRS) | {"traceparent", "tracestate"}
_ATTR_OF = {f"ce-{name}".encode(): name for name in _KNOWN}
# Printable ASCII that may stand for itself: everything from ! to ~ but '"' and '%'.
_PLAIN = re.compile(r"[\x21\x23\x24\x26-\x7e]*")
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')
_ESCAPES = re.compile(r"(?:[^%]|%[0-9A-Fa-f]{2})*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_QUOTED_PAIR = re.compile(r"\\(.)")


def to_headers(envelope: Envelope) -> dict[str, str]:
    """Binary-mode headers for ``envelope`` (the payload travels as the body)."""
    headers = {
        "ce-id": envelope.id,
        "ce-source": envelope.source,
        "ce-type": envelope.type,
        "ce-specversion": envelope.specversion,
    }
    for name in _OPTIONAL_ATTRS:
        value = getattr(envelope, name)
        if value is not None:
            headers[f"ce-{name}"] = value
    # One check of all the values at once: nearly always none needs encoding.
    if _PLAIN.fullmatch("".join(headers.values())) is None:
        headers = {name: encode_value(value) for name, value in headers.items()}
    headers["content-type"] = envelope.datacontenttype or _JSON
    if envelope.traceparent is not None:
        headers["traceparent"] = envelope.traceparent
        if envelope.tracestate is not None:
            headers["tracestate"] = envelope.tracestate
    return headers


def encode_value(value: str) -> str:
    if _PLAIN.fullmatch(value) is not None:
        return value
    return quote(value, safe=_SAFE, encoding="utf-8", errors="strict")


def from_asgi(raw: Iterable[tuple[bytes, bytes]], body: bytes, *, default_type: str) -> Envelope:
    """:func:`from_http` on an ASGI scope's headers (lowercase names, latin-1 bytes)."""
    attrs: dict[str, str] = {}
    traceparents: list[str] = []
    tracestates: list[str] = []
    content_type = None
    for key, value in raw:
        attr = _ATTR_OF.get(key)
        if attr is None:
            if key[:3] == b"ce-":
                attr = key[3:].decode("latin-1")
            elif key == b"traceparent":
                traceparents.append(value.decode("latin-1"))
                continue
            elif key == b"tracestate":
                tracestates.append(value.decode("latin-1"))
                continue
            elif key == b"content-type":
                content_type = value.decode("latin-1")
                continue
            else:
                continue
        if attr in attrs:
            raise CodecError(f"the header ce-{attr} is given twice")
        attrs[attr] = value.decode("latin-1")  # decoded in binary mode only
    if content_type is not None and _media_type(content_type) == STRUCTURED:
        envelope = Envelope.from_bytes(body)
    else:
        envelope = _binary(attrs, content_type, body, default_type)
    if traceparents:
        # Several headers are one comma-separated value: two traceparents make an invalid one.
        envelope.traceparent = ",".join(traceparents)
        envelope.tracestate = ",".join(tracestates) if tracestates else None
    return envelope


def from_http(headers: Iterable[tuple[str, str]], body: bytes, *, default_type: str) -> Envelope:
    try:
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    except UnicodeEncodeError:
        raise CodecError("header values are ASCII: percent-encode other characters") from None
    return from_asgi(raw, body, default_type=default_type)


def _binary(
    raw: dict[str, str], content_type: str | None, body: bytes, default_type: str
) -> Envelope:
    attrs = {name: decode_value(name, value) for name, value in raw.items()}
    if not _KNOWN.issuperset(attrs):
        if "datacontenttype" in attrs:
            raise CodecError(
                "binary mode carries datacontenttype as Content-Type, never as ce-datacontenttype"
            )
        attrs = {name: value for name, value in attrs.items() if name in _KNOWN}
    if "specversion" in attrs:
        if not (attrs.get("id") and attrs.get("source") and attrs.get("type")):
            missing = [f"ce-{name}" for name in ("id", "source", "type") if not attrs.get(name)]
            raise CodecError(f"a CloudEvent in binary mode needs {', '.join(missing)}")
    else:  # a plain HTTP request
        attrs["id"] = attrs.get("id") or new_id()
        attrs["source"] = attrs.get("source") or "/http"
        attrs["type"] = attrs.get("type") or default_type
        attrs["specversion"] = "1.0"
    envelope = Envelope(**attrs, data=msgspec.Raw(body or b"null"))
    check_attributes(envelope)
    if content_type is not None and content_type != _JSON:
        envelope.datacontenttype = content_type
    return envelope


def decode_value(name: str, raw: str) -> str:
    """One ``ce-*`` header value: unquoted, then percent-decoded once."""
    if name not in _KNOWN:
        if ATTRIBUTE_NAME.fullmatch(name) is None:
            raise CodecError(
                f"ce-{name}: CloudEvents attribute names are lowercase letters and digits"
            )
        if name == "data":
            raise CodecError("ce-data: 'data' is no attribute; in binary mode the body is the data")
    value = raw.strip(_OWS)
    if value.isascii() and value.isprintable() and "%" not in value and value[:1] != '"':
        return value  # the common case: nothing to undo
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
    if not value.isascii():
        raise CodecError(f"ce-{name}: characters outside ASCII must be percent-encoded")
    if "%" in value:
        if _ESCAPES.fullmatch(value) is None:
            raise CodecError(f"ce-{name}: a '%' must start a %XX escape")
        try:
            value = unquote_to_bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise CodecError(f"ce-{name}: the percent-encoded bytes are not UTF-8") from None
    if _CONTROL.search(value) is not None:
        raise CodecError(f"ce-{name}: control characters are not allowed in attribute values")
    return value


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip(_OWS).lower()
