"""The answers the gateway gives itself, in interlink's error shape."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from starlette.types import Send

from interlink._errors import (
    BulkheadFull,
    CallError,
    CallNotPermitted,
    DeadlineExceeded,
    ServiceUnavailable,
)

__all__ = ["error_status", "send_error", "send_json"]

_ENCODE = msgspec.json.Encoder().encode


async def send_json(
    send: Send, status: int, data: object, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = _ENCODE(data)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_error(
    send: Send,
    status: int,
    type_name: str,
    message: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """``{"error": {"type": ..., "message": ...}}`` with ``status``."""
    await send_json(send, status, {"error": {"type": type_name, "message": message}}, headers)


def error_status(exc: CallError) -> tuple[int, str]:
    """What a failure to reach the upstream is answered with."""
    if isinstance(exc, DeadlineExceeded):
        return 504, "GatewayTimeout"
    if isinstance(exc, (ServiceUnavailable, CallNotPermitted, BulkheadFull)):
        return 503, "ServiceUnavailable"
    return 502, "BadGateway"
