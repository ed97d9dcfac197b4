"""The Starlette routing pieces that keep every answer in the JSON error contract."""

from __future__ import annotations

from starlette.routing import Route

from interlink.transport.http._asgi import (
    CORRELATION_HEADER,
    Receive,
    Scope,
    Send,
    correlation_id,
    send_error,
)

__all__ = ["JsonRoute", "not_found", "request_correlation"]


class JsonRoute(Route):
    """A path and the methods declared on it; another method is a JSON 405 with ``Allow``."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allow = ", ".join(sorted(self.methods))
            await send_error(
                send,
                405,
                "MethodNotAllowed",
                f"{scope['method']} is not allowed here; use {allow}",
                request_correlation(scope),
                extra=[(b"allow", allow.encode())],
            )
            return
        await self.app(scope, receive, send)


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """The router's answer for a path nothing serves."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000})
        return
    if scope["type"] != "http":
        return
    message = f"no route for {scope.get('path')}"
    await send_error(send, 404, "NotFound", message, request_correlation(scope))


def request_correlation(scope: Scope) -> str:
    """The correlation id the request sent, or a new one."""
    wanted = (b"ce-correlationid", CORRELATION_HEADER.encode())
    found: dict[bytes, str] = {}
    for key, value in scope.get("headers", ()):
        if key in wanted and key not in found:
            found[key] = value.decode("latin-1")
    return correlation_id(*(found.get(name) for name in wanted))
