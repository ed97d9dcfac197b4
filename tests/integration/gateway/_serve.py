"""Shared by the gateway tests: a real uvicorn server on a free loopback port, a stand-in for
the authentication middleware, and WebSocket helpers with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection

from interlink.gateway import Identity


@contextlib.asynccontextmanager
async def serving(asgi: Any, *, lifespan: str = "off") -> AsyncIterator[int]:
    """Serve ``asgi`` with uvicorn until the block ends; yields the port.

    The listening socket is bound here (port 0) and handed to uvicorn, so no other process can
    take the port between choosing it and listening on it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    config = uvicorn.Config(asgi, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # uvicorn has no started event: poll, bounded above
                if task.done():
                    task.result()  # uvicorn failed to start: raise what it raised
                await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await task
        listener.close()


class HeaderIdentity:
    """Stands in for the JWT middleware: the identity comes from the ``x-user`` header."""

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def authenticated(scope: Scope, receive: Receive, send: Send) -> None:
            user = dict(scope.get("headers", [])).get(b"x-user")
            if user is not None:
                scope.setdefault("state", {})["identity"] = Identity(
                    subject=user.decode(), claims={}, scopes=frozenset(), method="jwt"
                )
            await app(scope, receive, send)

        return authenticated


async def receive_json(ws: ClientConnection, *, timeout: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        frame = await ws.recv()
    decoded: dict[str, Any] = json.loads(frame)
    return decoded


async def next_event(ws: ClientConnection, *, timeout: float = 10.0) -> dict[str, Any]:
    """The next frame that is not a heartbeat."""
    while True:
        frame = await receive_json(ws, timeout=timeout)
        if frame["type"] != "ping":
            return frame


async def subscribe(ws: ClientConnection, topic: str, key: str | None = None) -> None:
    await ws.send(json.dumps({"op": "subscribe", "topic": topic, "key": key}))
    assert await next_event(ws) == {"type": "subscribed", "topic": topic, "key": key}
