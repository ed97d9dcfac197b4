"""The envelope every message and call travels in: CloudEvents 1.0 plus interlink's extensions.

On a broker the envelope is CloudEvents *structured* JSON (``data`` inlined as raw JSON, never
re-encoded). On HTTP (``_envelope_http``) interlink sends *binary* mode: attributes in ``ce-*``
headers, the trace in the W3C ``traceparent`` and ``tracestate`` headers, the payload as the
body; it accepts binary and structured mode.

``traceparent`` and ``tracestate`` are the attributes of CloudEvents' distributed-tracing
extension; they are checked where work starts under them (``_tracecontext``), not here.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Mapping

import msgspec

from interlink._errors import CodecError
from interlink._rfc3339 import format_time, parse_time

__all__ = [
    "ATTRIBUTE_NAME",
    "Envelope",
    "check_attributes",
    "format_time",
    "new_id",
    "parse_time",
]

ATTRIBUTE_NAME = re.compile(r"[a-z0-9]+")
"""CloudEvents attribute names: lowercase ASCII letters and digits (interlink's stay within
the 20 characters the specification recommends)."""

_CONTEXT_ATTRS = (
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


class Envelope(msgspec.Struct, kw_only=True, omit_defaults=True):
    """CloudEvents 1.0 attributes, interlink's extensions, and the payload as raw JSON."""

    id: str
    source: str
    type: str
    specversion: str
    time: str | None = None
    datacontenttype: str | None = None
    """None means ``application/json``."""
    subject: str | None = None
    traceparent: str | None = None
    tracestate: str | None = None
    correlationid: str | None = None
    causationid: str | None = None
    partitionkey: str | None = None
    deadline: str | None = None
    """Absolute RFC 3339 time after which nobody should work on this message."""
    replyto: str | None = None
    """A topic to answer on with a durable reply event (see ``interlink._replies``)."""
    data: msgspec.Raw = msgspec.Raw(b"null")

    def to_bytes(self) -> bytes:
        return _ENCODER.encode(self)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        """A CloudEvent in the JSON format; CodecError unless it is a valid 1.0 event."""
        try:
            envelope: Envelope = _STRICT_DECODER.decode(raw)  # only known attributes: names valid
            # Invariant: _Strict adds no field, so its objects have Envelope's layout.
            envelope.__class__ = Envelope
        except msgspec.ValidationError:
            envelope = _with_extensions(raw)  # other extensions, or data_base64
        except msgspec.DecodeError as exc:
            raise CodecError(f"not a CloudEvents envelope: {exc}") from None
        check_attributes(envelope)
        return envelope

    def http_headers(self) -> dict[str, str]:
        """Binary-mode headers for this envelope (the payload travels as the body)."""
        from interlink._envelope_http import to_headers

        return to_headers(self)

    @classmethod
    def from_http(
        cls, headers: Iterable[tuple[str, str]], body: bytes, *, default_type: str
    ) -> Envelope:
        """The envelope of an HTTP request in binary or structured mode; a plain HTTP request
        gets fresh ids. CodecError when the request breaks the CloudEvents HTTP binding."""
        from interlink._envelope_http import from_http

        return from_http(headers, body, default_type=default_type)

    @property
    def deadline_at(self) -> float | None:
        """The deadline as epoch seconds, or None. A malformed deadline is a CodecError."""
        return None if self.deadline is None else parse_time(self.deadline)

    def headers(self) -> Mapping[str, str]:
        """The attributes a handler may read as ``ctx.headers``."""
        return {
            name: value for name in _CONTEXT_ATTRS if (value := getattr(self, name)) is not None
        }


class _Strict(Envelope, forbid_unknown_fields=True):
    """Decodes an envelope with no attribute interlink does not know: the common case, whose
    attribute names need no check."""


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Envelope)
_STRICT_DECODER = msgspec.json.Decoder(_Strict)
_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_JSON_MEMBERS = frozenset({"data", "data_base64"})


def _with_extensions(raw: bytes) -> Envelope:
    try:
        members = _MEMBERS.decode(raw)
        envelope = _DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CodecError(f"not a CloudEvents envelope: {exc}") from None
    for name in members:
        if name not in _JSON_MEMBERS and ATTRIBUTE_NAME.fullmatch(name) is None:
            raise CodecError(
                f"invalid CloudEvents attribute name {name!r}: lowercase letters and digits"
            )
    encoded = members.get("data_base64")
    if encoded is not None:
        if "data" in members:
            raise CodecError("a CloudEvent has data or data_base64, not both")
        envelope.data = msgspec.Raw(_base64(encoded))
    return envelope


def check_attributes(envelope: Envelope) -> None:
    """The rules every received envelope meets, in any format and mode: specversion 1.0, the
    required attributes present, ``time`` an RFC 3339 timestamp."""
    if envelope.specversion != "1.0":
        raise CodecError(f"unsupported CloudEvents specversion {envelope.specversion!r}")
    for name in ("id", "source", "type"):
        if not getattr(envelope, name):
            raise CodecError(f"the CloudEvents attribute {name!r} must not be empty")
    if envelope.time is not None:
        parse_time(envelope.time)


def _base64(member: msgspec.Raw) -> bytes:
    try:
        return base64.b64decode(msgspec.json.decode(member, type=str), validate=True)
    except (msgspec.ValidationError, binascii.Error) as exc:
        raise CodecError(f"data_base64 is not base64: {exc}") from None


def new_id() -> str:
    return os.urandom(16).hex()
