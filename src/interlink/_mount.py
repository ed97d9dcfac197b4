"""``App.asgi()``: interlink's HTTP endpoints inside another ASGI application.

::

    app = il.App([orders, inventory])
    api = FastAPI(lifespan=app.lifespan)       # the App runs while the host application runs
    api.mount("/svc", app.asgi())              # POST /svc/rpc/orders/place, GET /svc/health/ready

The mounted application looks the running App up on each request, so it can be created (and
mounted) at import time, before the App starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from interlink._envelope import new_id
from interlink._wire import error_outcome

if TYPE_CHECKING:
    from interlink._app import App

__all__ = ["AsgiApp", "MountedApp"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class MountedApp:
    """What :meth:`App.asgi` returns: an ASGI application serving the App while it runs."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        try:
            http = self._app.runtime.http_app
        except RuntimeError:  # not running
            http = None
        if http is not None:
            await http(scope, receive, send)
        elif scope["type"] == "http":
            await _not_serving(send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})  # try again later

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Served on its own (``uvicorn module:asgi_app``), it runs the App itself."""
        stack = AsyncExitStack()
        await receive()  # lifespan.startup
        try:
            await stack.enter_async_context(self._app.lifespan())
        except Exception as exc:
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        try:
            await stack.aclose()
        except Exception as exc:
            await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})


async def _not_serving(send: Send) -> None:
    correlation = new_id()
    body = error_outcome(
        503,
        "ServiceUnavailable",
        "not running: start the App with the host application (lifespan=app.lifespan)",
        service="",
        method="",
        correlation_id=correlation,
    ).body
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-correlation-id", correlation.encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
