"""The serving side of HTTP: one uvicorn server per running App, all its services on one port.

``POST /rpc/{service}/{method}`` is dispatched by a plain ASGI fast path; REST routes, health,
OpenAPI and the admin API go through a Starlette router.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import uvicorn

from interlink._envelope_http import from_asgi
from interlink._errors import CodecError, ConfigurationError
from interlink._wire import error_outcome
from interlink.transport.http._asgi import BodyTooLarge, Receive, Scope, Send, read_body, send_json
from interlink.transport.http._rest import build_router

if TYPE_CHECKING:
    from interlink._dispatch import Dispatcher
    from interlink.transport.http._admin import Admin

__all__ = ["HttpServer", "HttpSettings"]


@dataclass(frozen=True, kw_only=True, slots=True)
class HttpSettings:
    host: str
    port: int
    max_body_size: int
    drain_timeout: float
    title: str
    version: str


class HttpServer:
    """Serves one Dispatcher; ``admin`` adds the loopback admin API the CLI uses."""

    def __init__(
        self, dispatcher: Dispatcher, settings: HttpSettings, admin: Admin | None = None
    ) -> None:
        self._dispatcher = dispatcher
        self._settings = settings
        self._host = settings.host
        self._requested_port = settings.port
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._router = build_router(dispatcher, settings, admin)
        self._limit = settings.max_body_size

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
        config = uvicorn.Config(
            self,
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=5,  # SERVER_KEEPALIVE (_client.py): the client's must stay below
            timeout_graceful_shutdown=max(1, math.ceil(self._settings.drain_timeout)),
        )
        config.load()
        self._server = uvicorn.Server(config)
        self._server.lifespan = config.lifespan_class(config)
        await self._server.startup(sockets=[self._socket])
        # uvicorn's own loop refreshes the Date header and watches should_exit.
        self._ticker = asyncio.create_task(self._server.main_loop(), name="http ticker")

    async def stop(self, drain_timeout: float) -> None:
        """Stop accepting, let in-flight requests finish (up to ``drain_timeout``), close.

        uvicorn's own shutdown sleeps a fixed 0.1 s per step; this polls its state instead.
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
            connection.shutdown()  # idle keep-alive connections close now, busy ones after replying
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        # uvicorn exposes no event for "last connection closed"; its own shutdown polls too.
        while (state.connections or state.tasks) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        for task in list(state.tasks):
            task.cancel()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/rpc/") and scope["method"] == "POST":
            await self._rpc(scope, receive, send, path)
        else:
            await self._router(scope, receive, send)

    async def _rpc(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        service, _, method = path[5:].partition("/")
        dispatcher = self._dispatcher
        handler = dispatcher.rpc(service, method)

        def fail(status: int, type_name: str, message: str) -> bytes:
            return error_outcome(
                status, type_name, message, service=service, method=method, correlation_id=""
            ).body

        if handler is None:
            known = service in dispatcher.services
            text = (
                f"{service} has no method {method!r}" if known else f"no service {service!r} here"
            )
            await send_json(send, 404, fail(404, "MethodNotFound", text))
            return
        if dispatcher.draining:
            await send_json(
                send, 503, fail(503, "ServiceUnavailable", f"{service} is shutting down")
            )
            return
        try:
            body = await read_body(receive, self._limit)
        except BodyTooLarge:
            await send_json(
                send, 413, fail(413, "PayloadTooLarge", f"body over {self._limit} bytes")
            )
            return
        try:
            envelope = from_asgi(scope["headers"], body, default_type=handler.target)
        except CodecError as exc:
            await send_json(send, 400, fail(400, "BadRequest", str(exc)))
            return
        outcome = await dispatcher.invoke_rpc(handler, envelope, bytes(envelope.data))
        await send_json(send, outcome.status, outcome.body)
