"""Small ASGI helpers for the hot path (no framework objects per request), and the pieces of
the HTTP contract every response shares: the JSON error body and the correlation id."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from interlink._envelope import new_id
from interlink._errors import FieldError
from interlink._wire import error_outcome

__all__ = [
    "CORRELATION_HEADER",
    "READING_BODY",
    "BodyTooLarge",
    "ClientDisconnected",
    "Receive",
    "Scope",
    "Send",
    "correlation_id",
    "error_body",
    "is_json",
    "is_structured",
    "read_body",
    "route_path",
    "send_error",
    "send_json",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

CORRELATION_HEADER = "x-correlation-id"
"""Every RPC, route and error response carries the request's correlation id in this header."""

READING_BODY = "interlink.reading_body"
"""Set in the scope while the app waits for the request body. The server's protocol answers
such a request itself when the body is late or the server stops (its handler has not started);
a request whose handler runs without reading the body is let finish instead."""

RPC_TASK = "interlink.rpc_task"
"""The task running an RPC, set in its scope by the server: the protocol cancels it when the
client's connection closes before the answer is complete (the caller gave up)."""
CLIENT_GONE = "interlink.client_gone"
"""Set in the scope when the protocol cancelled the RPC's task because its client left."""

_JSON = (b"content-type", b"application/json")
_STRUCTURED = "application/cloudevents+json"
_JSON_MEDIA_TYPES = frozenset({"application/json", _STRUCTURED})
# What may be echoed back in a header and a log line: visible ASCII, bounded.
_CORRELATION_ID = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?")


class BodyTooLarge(Exception):
    pass


class ClientDisconnected(Exception):
    """The connection closed before the whole body arrived (the client left, or the server
    cut it off: too slow, or shutting down). There is nobody left to answer."""


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body; BodyTooLarge past ``limit`` bytes (memory stays bounded),
    ClientDisconnected when the connection closes first."""
    scope[READING_BODY] = True
    try:
        return await _read(receive, limit)
    finally:
        scope[READING_BODY] = False


async def _read(receive: Receive, limit: int) -> bytes:
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise BodyTooLarge
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def is_json(content_type: str | None) -> bool:
    """JSON, or a CloudEvent in structured JSON mode (parameters such as charset aside)."""
    return content_type is not None and _media_type(content_type) in _JSON_MEDIA_TYPES


def is_structured(content_type: str | None) -> bool:
    """A CloudEvent in structured mode: the body is the whole event, its payload in ``data``."""
    return content_type is not None and _media_type(content_type) == _STRUCTURED


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def correlation_id(*candidates: str | None) -> str:
    """The first usable id the client sent (``ce-correlationid``, ``x-correlation-id``), or a
    new one. An id that is not 1-128 printable ASCII characters (no space at either end) is
    replaced, not echoed."""
    for candidate in candidates:
        if candidate is not None and _CORRELATION_ID.fullmatch(candidate):
            return candidate
    return new_id()


def route_path(scope: Scope) -> str:
    """The path below the mount point (``root_path``) when mounted in another ASGI app."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :]
    return path


def error_body(
    status: int,
    type_name: str,
    message: str,
    correlation: str,
    *,
    service: str = "",
    method: str = "",
    errors: list[FieldError] | None = None,
) -> bytes:
    return error_outcome(
        status,
        type_name,
        message,
        service=service,
        method=method,
        correlation_id=correlation,
        errors=errors,
    ).body


async def send_json(
    send: Send,
    status: int,
    body: bytes,
    correlation: str | None = None,
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    headers = [_JSON, (b"content-length", str(len(body)).encode())]
    if correlation is not None:
        headers.append((CORRELATION_HEADER.encode(), correlation.encode()))
    headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send,
    status: int,
    type_name: str,
    message: str,
    correlation: str,
    *,
    service: str = "",
    method: str = "",
    errors: list[FieldError] | None = None,
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    body = error_body(
        status, type_name, message, correlation, service=service, method=method, errors=errors
    )
    await send_json(send, status, body, correlation, extra)
