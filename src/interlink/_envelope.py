"""The envelope every message and call travels in: CloudEvents 1.0 plus interlink's extensions.

On a broker the envelope is CloudEvents *structured* JSON (``data`` inlined as raw JSON, never
re-encoded); on HTTP it is *binary* mode: attributes in ``ce-*`` headers, ``traceparent`` as the
W3C header, the payload as the body.
"""

from __future__ import annotations

import os
import time as _time
from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec

from interlink._errors import CodecError

__all__ = [
    "Envelope",
    "format_time",
    "new_id",
    "new_traceparent",
    "parse_time",
]

_HTTP_ATTRS = (
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
)
_HEADER_TO_ATTR = {f"ce-{name}": name for name in _HTTP_ATTRS}


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
    correlationid: str | None = None
    causationid: str | None = None
    partitionkey: str | None = None
    deadline: str | None = None
    """Absolute RFC 3339 time after which nobody should work on this message."""
    data: msgspec.Raw = msgspec.Raw(b"null")

    def to_bytes(self) -> bytes:
        return _ENCODER.encode(self)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        try:
            envelope = _DECODER.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CodecError(f"not a CloudEvents envelope: {exc}") from None
        if envelope.specversion != "1.0":
            raise CodecError(f"unsupported CloudEvents specversion {envelope.specversion!r}")
        return envelope

    def http_headers(self) -> dict[str, str]:
        """Binary-mode headers for this envelope (the payload travels as the body)."""
        headers = {"content-type": self.datacontenttype or "application/json"}
        for name in _HTTP_ATTRS:
            value = getattr(self, name)
            if value is not None:
                headers[f"ce-{name}"] = value
        if self.traceparent is not None:
            headers["traceparent"] = self.traceparent
        return headers

    @classmethod
    def from_http(
        cls, headers: Iterable[tuple[str, str]], body: bytes, *, default_type: str
    ) -> Envelope:
        """Rebuild an envelope from binary-mode headers; a plain HTTP request gets fresh ids."""
        attrs: dict[str, str] = {}
        traceparent = None
        for key, value in headers:
            lowered = key.lower()
            name = _HEADER_TO_ATTR.get(lowered)
            if name is not None:
                attrs[name] = value
            elif lowered == "traceparent":
                traceparent = value
        return cls(
            id=attrs.pop("id", "") or new_id(),
            source=attrs.pop("source", "") or "/http",
            type=attrs.pop("type", "") or default_type,
            specversion=attrs.pop("specversion", "1.0"),
            traceparent=traceparent,
            data=msgspec.Raw(body or b"null"),
            **attrs,
        )

    @property
    def deadline_at(self) -> float | None:
        """The deadline as epoch seconds, or None. A malformed deadline is a CodecError."""
        return None if self.deadline is None else parse_time(self.deadline)

    def headers(self) -> Mapping[str, str]:
        """The attributes a handler may read as ``ctx.headers``."""
        return {name: value for name in _HTTP_ATTRS if (value := getattr(self, name)) is not None}


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Envelope)


def new_id() -> str:
    return os.urandom(16).hex()


def new_traceparent(parent: str | None = None) -> str:
    """A W3C traceparent for a new span: same trace as ``parent`` if given, else a new trace."""
    if parent is not None and len(parent) == 55 and parent[2] == "-":
        trace_id, flags = parent[3:35], parent[53:55]
    else:
        trace_id, flags = os.urandom(16).hex(), "01"
    return f"00-{trace_id}-{os.urandom(8).hex()}-{flags}"


class _SecondCache:
    """Formatting the date part costs microseconds and changes once a second. A call formats
    two instants (its time and its deadline), so the last four seconds are kept."""

    __slots__ = ("prefixes",)

    def __init__(self) -> None:
        self.prefixes: dict[int, str] = {}

    def prefix(self, whole: int) -> str:
        found = self.prefixes.get(whole)
        if found is None:
            if len(self.prefixes) >= 4:
                self.prefixes.clear()
            found = self.prefixes[whole] = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(whole))
        return found


_SECONDS = _SecondCache()


def format_time(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds."""
    whole = int(epoch)
    return f"{_SECONDS.prefix(whole)}.{int((epoch - whole) * 1000):03d}Z"


def parse_time(text: str) -> float:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise CodecError(f"not an RFC 3339 time: {text!r}") from None
