"""The serving side of HTTP: one uvicorn server per running App, all its services on one port.

It serves an :class:`HttpApp` through :class:`GuardedProtocol` (uvicorn's, with time and size
limits on slow clients), and stops within ``drain_timeout`` whatever its clients do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
from typing import TYPE_CHECKING

import uvicorn

from interlink._errors import ConfigurationError
from interlink.transport.http._application import HttpApp
from interlink.transport.http._asgi import CLIENT_GONE, RPC_TASK, Receive, Scope, Send
from interlink.transport.http._protocol import guarded_protocol
from interlink.transport.http._settings import HttpSettings, as_seconds

if TYPE_CHECKING:
    from interlink._dispatch import Dispatcher
    from interlink.transport.http._admin import Admin

__all__ = ["HttpServer"]

log = logging.getLogger("interlink")


class HttpServer:
    """Serves one Dispatcher (or a ready :class:`HttpApp`); ``admin`` adds the admin API."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        settings: HttpSettings,
        admin: Admin | None = None,
        *,
        app: HttpApp | None = None,
    ) -> None:
        self._settings = settings
        self._host = settings.host
        self._requested_port = settings.port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._app = app if app is not None else HttpApp(dispatcher, settings, admin)
        self._cutting_off = False

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the HTTP server is not running")
        return int(self._socket.getsockname()[1])

    async def start(self) -> None:
        try:
            self._socket = socket.create_server((self._host, self._requested_port), backlog=1024)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {self._host}:{self._requested_port}: {exc.strerror}"
            ) from None
        timeouts = self._settings.timeouts
        config = uvicorn.Config(
            self,
            http=guarded_protocol(timeouts),
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            proxy_headers=False,
            # SERVER_KEEPALIVE (_client.py) by default: the client's must stay below.
            timeout_keep_alive=as_seconds(timeouts.keep_alive),  # type: ignore[arg-type]
            timeout_graceful_shutdown=max(1, math.ceil(self._settings.drain_timeout)),
        )
        config.load()
        self._server = uvicorn.Server(config)
        self._server.lifespan = config.lifespan_class(config)
        await self._server.startup(sockets=[self._socket])
        # uvicorn's own loop refreshes the Date header and watches should_exit.
        self._ticker = asyncio.create_task(self._server.main_loop(), name="http ticker")

    async def stop(self, drain_timeout: float) -> None:
        """Stop accepting, let in-flight requests finish, close: all within ``drain_timeout``.

        Idle connections and those still sending a head close at once; a request whose body is
        still arriving is answered 503 at once (its handler never ran). Whatever still runs
        near the deadline is cut off: its connection is closed (which also frees a handler
        blocked on a client that does not read its answer) and its task cancelled, with one
        warning line each instead of a traceback.
        """
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for listener in server.servers:
            listener.close()
        state = server.server_state
        for connection in list(state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        # A slice of the budget is kept for cutting off what is left and letting it unwind.
        cut_off = deadline - min(0.25, drain_timeout / 10)
        # uvicorn exposes no event for "last connection closed"; its own shutdown polls too.
        while (state.connections or state.tasks) and loop.time() < cut_off:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        if state.connections or state.tasks:
            await self._cut_off(state, deadline - loop.time())
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def _cut_off(self, state: uvicorn.server.ServerState, budget: float) -> None:
        self._cutting_off = True
        for connection in list(state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        tasks = list(state.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=max(budget, 0.01))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/rpc/"):
            scope[RPC_TASK] = asyncio.current_task()
        try:
            await self._app(scope, receive, send)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._cutting_off:
                if not scope.get(CLIENT_GONE):
                    raise
                if task is not None:
                    task.uncancel()  # its client left, and the protocol cancelled it: ended
                return
            if task is not None:
                task.uncancel()  # we cancelled it to end the request, and it has ended
            log.warning(
                "%s %s was still running at the end of the %.1f s drain and was cut off",
                scope.get("method"),
                scope.get("path"),
                self._settings.drain_timeout,
            )
