"""The ASGI lifespan protocol for an app that is an async context manager."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.types import Receive, Send

__all__ = ["serve_lifespan"]


async def serve_lifespan(
    resource: AbstractAsyncContextManager[Any], receive: Receive, send: Send
) -> None:
    """Enter ``resource`` on startup, leave it on shutdown; report failures to the server."""
    await receive()  # lifespan.startup
    try:
        await resource.__aenter__()
    except Exception as exc:
        await send({"type": "lifespan.startup.failed", "message": repr(exc)})
        return
    await send({"type": "lifespan.startup.complete"})
    await receive()  # lifespan.shutdown
    try:
        await resource.__aexit__(None, None, None)
    except Exception as exc:
        await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
        return
    await send({"type": "lifespan.shutdown.complete"})
