"""How an edge middleware answers a request itself: interlink's JSON error shape."""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import Scope, Send

__all__ = ["refuse"]

Header = tuple[bytes, bytes]


async def refuse(
    scope: Scope,
    send: Send,
    status: int,
    error_type: str,
    message: str,
    headers: Iterable[Header] = (),
) -> None:
    """Answer ``status`` with ``{"error": {"type": ..., "message": ...}}``.

    A WebSocket handshake cannot carry a body here; it is closed with 1008 (policy violation).
    """
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    body = json.dumps({"error": {"type": error_type, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
