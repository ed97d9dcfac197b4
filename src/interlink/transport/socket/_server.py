"""The serving side of the socket transport: one listener (TCP or Unix) per running App."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import ssl as ssl_module
import stat
from typing import TYPE_CHECKING

from interlink._errors import ConfigurationError
from interlink.transport.socket._address import SocketAddress, parse_address
from interlink.transport.socket._serving import ServerConnection

if TYPE_CHECKING:
    from interlink._dispatch import Dispatcher

__all__ = ["DEFAULT_MAX_STREAMS", "SocketServer"]

DEFAULT_MAX_STREAMS = 256
"""Calls one connection may have in flight at once, on both sides."""


class SocketServer:
    """Serves a Dispatcher's RPCs on ``address`` (``tcp://host:port``, port 0 picks a free one,
    or ``unix:///path``). ``max_body``: the largest request payload, in bytes."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        address: str,
        *,
        max_body: int = 1 << 20,
        max_streams: int = DEFAULT_MAX_STREAMS,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._address = parse_address(address)
        self._max_body = max_body
        self._max_streams = max_streams
        self._ssl = ssl
        self._server: asyncio.Server | None = None
        self._connections: set[ServerConnection] = set()
        self._bound: SocketAddress | None = None

    @property
    def address(self) -> str:
        """Where it listens: the bound port when port 0 was asked."""
        if self._bound is None:
            raise RuntimeError("the socket server is not running")
        return self._bound.url()

    @property
    def connections(self) -> int:
        """Client connections open now."""
        return len(self._connections)

    def _protocol(self) -> ServerConnection:
        return ServerConnection(
            self._dispatcher,
            max_body=self._max_body,
            max_streams=self._max_streams,
            connections=self._connections,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        address = self._address
        try:
            if address.is_unix:
                _remove_stale_socket(address.path)
                self._server = await loop.create_unix_server(
                    self._protocol, address.path, ssl=self._ssl, backlog=1024
                )
                self._bound = address
                return
            self._server = await loop.create_server(
                self._protocol, address.host, address.port, ssl=self._ssl, backlog=1024
            )
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {address.url()}: {exc.strerror}") from None
        port = self._server.sockets[0].getsockname()[1]
        self._bound = SocketAddress(address.host, int(port))

    async def stop(self, drain_timeout: float) -> None:
        """Stop accepting; tell every client to open no more streams (GOAWAY); let the calls
        in flight finish within ``drain_timeout``; then cancel what is left and close."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for connection in list(self._connections):
            connection.goaway("the server is stopping", close=False)
        tasks = [task for c in self._connections for task in c.tasks.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=drain_timeout)
        for connection in list(self._connections):
            for task in connection.tasks.values():
                task.cancel()
            connection.close()
        left = [task for c in self._connections for task in c.tasks.values()]
        if left:
            await asyncio.wait(left, timeout=0.5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1.0)
        if self._address.is_unix:
            with contextlib.suppress(OSError):
                os.unlink(self._address.path)


def _remove_stale_socket(path: str) -> None:
    """A socket file left by a process that is gone would make ``bind`` fail; one somebody
    still accepts on is theirs (asyncio would unlink it and take the path over silently)."""
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            probe = socket.socket(socket.AF_UNIX)
            with probe:
                if probe.connect_ex(path) == 0:
                    raise OSError(errno.EADDRINUSE, "another process serves on this socket")
            os.unlink(path)
    except FileNotFoundError:
        return
