"""The envelope in gRPC metadata: the ``ce-*`` attributes and ``traceparent``/``tracestate``
as on HTTP (the CloudEvents HTTP binding's binary mode, percent-encoded the same way).

A call without ``ce-specversion`` (a plain gRPC client) gets a fresh id, the source ``/grpc``
and the type ``{service}.{method}``, as a plain HTTP request does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from interlink._envelope_http import from_http, to_headers

if TYPE_CHECKING:
    from interlink._envelope import Envelope

__all__ = ["CODEC_KEY", "STREAM_KEY", "envelope_of", "metadata_of"]

CODEC_KEY = "interlink-codec"
"""``json``: the message is the JSON body (interlink callers); absent: protobuf."""
STREAM_KEY = "interlink-stream"
"""``1``: an interlink caller's ``stream()`` (request metadata), a streaming RPC's answer
(initial metadata)."""

_TRACE = ("traceparent", "tracestate")


def metadata_of(envelope: Envelope) -> tuple[tuple[str, str], ...]:
    """What an interlink caller sends: the envelope, and that the message is JSON."""
    headers = to_headers(envelope)
    headers.pop("content-type", None)  # gRPC's own header
    return ((CODEC_KEY, "json"), *headers.items())


def envelope_of(metadata: Iterable[Any], body: bytes, default_type: str) -> Envelope:
    """The envelope of a call; CodecError when its attributes break the binding."""
    pairs = [
        (key, value)
        for key, value in metadata
        if isinstance(value, str) and (key[:3] == "ce-" or key in _TRACE)
    ]
    if not any(key == "ce-source" for key, _ in pairs):
        pairs.append(("ce-source", "/grpc"))
    return from_http(pairs, body, default_type=default_type)
