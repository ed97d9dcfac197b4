"""The event feed's JSON protocol: the frames a client sends and the frames it gets back.

Client → server (text frames, one JSON object each)::

    {"op": "subscribe",   "topic": "orders.status", "key": "o-1"}   # "key" optional
    {"op": "unsubscribe", "topic": "orders.status", "key": "o-1"}
    {"op": "ping"}  /  {"op": "pong"}

Server → client::

    {"type": "subscribed",   "topic": ..., "key": ...}
    {"type": "unsubscribed", "topic": ..., "key": ...}
    {"type": "event", "topic": ..., "key": ..., "id": ..., "time": ..., "data": ...}
    {"type": "ping"}  /  {"type": "pong"}
    {"type": "error", "error": {"type": ..., "message": ...}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from interlink._envelope import Envelope
from interlink._errors import CodecError

__all__ = [
    "ClientFrame",
    "FeedEvent",
    "FrameError",
    "decode_event",
    "error_frame",
    "event_frame",
    "parse_client_frame",
    "reply_frame",
]

Op = Literal["subscribe", "unsubscribe", "ping", "pong"]


class ClientFrame(msgspec.Struct, forbid_unknown_fields=True):
    op: Op
    topic: str | None = None
    key: str | None = None


class FrameError(Exception):
    """A client frame the feed cannot act on; answered with an error frame."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(message)
        self.type = type


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One message of a feed topic, as a per-topic ``allow`` predicate sees it.

    ``data`` is the decoded JSON payload (the envelope's ``data`` for interlink events, the
    whole body for a message that is not a CloudEvents envelope); ``envelope`` is None then.
    """

    topic: str
    key: str | None
    data: Any
    envelope: Envelope | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


_DECODER = msgspec.json.Decoder(ClientFrame)
_ENCODER = msgspec.json.Encoder()


def parse_client_frame(text: str) -> ClientFrame:
    try:
        frame = _DECODER.decode(text)
    except msgspec.DecodeError as exc:
        raise FrameError("BadFrame", f"not a feed frame: {exc}") from None
    if frame.op in ("subscribe", "unsubscribe") and not frame.topic:
        raise FrameError("BadFrame", f"{frame.op} needs a topic")
    return frame


def decode_event(topic: str, key: str | None, body: bytes, headers: Mapping[str, str]) -> FeedEvent:
    """The event a broker message carries; CodecError when the body is not JSON at all."""
    try:
        envelope = Envelope.from_bytes(body)
    except CodecError:
        try:
            return FeedEvent(topic, key, msgspec.json.decode(body), None, headers)
        except msgspec.DecodeError as exc:
            raise CodecError(f"not JSON: {exc}") from None
    data = msgspec.json.decode(bytes(envelope.data))
    return FeedEvent(topic, key or envelope.partitionkey, data, envelope, headers)


def event_frame(event: FeedEvent) -> str:
    """Encoded once per event and shared by every connection it is pushed to."""
    envelope = event.envelope
    frame: dict[str, Any] = {"type": "event", "topic": event.topic, "key": event.key}
    if envelope is not None:
        frame["id"] = envelope.id
        frame["time"] = envelope.time
        frame["data"] = envelope.data
    else:
        frame["data"] = event.data
    return _ENCODER.encode(frame).decode()


def reply_frame(type: str, topic: str | None = None, key: str | None = None) -> str:
    if topic is None:
        return _ENCODER.encode({"type": type}).decode()
    return _ENCODER.encode({"type": type, "topic": topic, "key": key}).decode()


def error_frame(type: str, message: str) -> str:
    return _ENCODER.encode({"type": "error", "error": {"type": type, "message": message}}).decode()
