"""Serving a streaming RPC over HTTP: one chunked response, one item per line.

``application/x-ndjson`` (the default): each item is a line ``{"result": ITEM}``; a failure
after the first item is a last line ``{"status": STATUS, "error": {...}}``. A failure before
the first item is an ordinary JSON error answer with its status. ``text/event-stream`` (when
the client's ``Accept`` asks for it): each item is an ``item`` event whose data is the item;
a failure is an ``error`` event whose data is ``{"status": STATUS, "error": {...}}``.

Backpressure: every line is sent with ``await send(...)``, which waits while the connection's
write buffer is full, so a client that stops reading pauses the handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from interlink._streaming import StreamFailed
from interlink._wire import Outcome
from interlink.transport.http._asgi import CORRELATION_HEADER, Send, send_json

__all__ = ["NDJSON", "SSE", "send_stream"]

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"


async def send_stream(
    send: Send, items: AsyncIterator[bytes], correlation: str, *, sse: bool
) -> None:
    """Answer with the items of ``items``; closes it in every case."""
    try:
        try:
            first = await anext(items)
        except StopAsyncIteration:
            first = None
        except StreamFailed as exc:
            await send_json(send, exc.outcome.status, exc.outcome.body, correlation)
            return
        headers = [
            (b"content-type", (SSE if sse else NDJSON).encode()),
            (b"cache-control", b"no-store"),
            (CORRELATION_HEADER.encode(), correlation.encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        line = _event if sse else _line
        if first is not None:
            await send({"type": "http.response.body", "body": line(first), "more_body": True})
            try:
                async for item in items:
                    await send(
                        {"type": "http.response.body", "body": line(item), "more_body": True}
                    )
            except StreamFailed as exc:
                last = _failure_event(exc.outcome) if sse else _failure_line(exc.outcome)
                await send({"type": "http.response.body", "body": last, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        await items.aclose()  # type: ignore[attr-defined]


def _line(item: bytes) -> bytes:
    return b'{"result":' + item + b"}\n"


def _event(item: bytes) -> bytes:
    return b"event: item\ndata: " + item + b"\n\n"


def _failure(outcome: Outcome) -> bytes:
    # outcome.body is {"error": {...}}: put the status in front of its one key
    return b'{"status":' + str(outcome.status).encode() + b"," + outcome.body[1:]


def _failure_line(outcome: Outcome) -> bytes:
    return _failure(outcome) + b"\n"


def _failure_event(outcome: Outcome) -> bytes:
    return b"event: error\ndata: " + _failure(outcome) + b"\n\n"
