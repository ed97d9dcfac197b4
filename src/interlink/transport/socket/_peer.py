"""The connections to one address: pick the least busy, open more up to the limit, reconnect
with backoff, and check a connection that has been quiet with a PING before trusting it."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from interlink.transport.socket._address import parse_address
from interlink.transport.socket._connection import ClientConnection, Lost

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from interlink._envelope import Envelope
    from interlink._wire import Outcome
    from interlink.transport.socket._frame import Frame

__all__ = ["ConnectFailed", "Peer", "PeerSettings"]

_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 1.0
_PING_TIMEOUT = 2.0


class ConnectFailed(Exception):
    """No connection could be made: the request was not sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerSettings:
    connections: int
    max_streams: int
    max_frame: int
    connect_timeout: float
    ping_after: float
    ssl: ssl_module.SSLContext | None


class Peer:
    def __init__(self, address: str, settings: PeerSettings) -> None:
        self._address = parse_address(address)
        self._settings = settings
        self._connections: list[ClientConnection] = []
        # Invariant: a call holds one slot from before it picks a connection until its answer,
        # so a connection with a free stream exists (or may be opened) for every slot holder.
        self._slots = asyncio.Semaphore(settings.connections * settings.max_streams)
        self._connecting: asyncio.Future[ClientConnection] | None = None
        self._backoff = 0.0
        self._retry_at = 0.0
        self._failure = ""

    async def call(self, service: str, method: str, envelope: Envelope, body: bytes) -> Outcome:
        async with self._slots:
            connection = await self._connection()
            return await connection.call(service, method, envelope, body)

    async def stream(
        self, service: str, method: str, envelope: Envelope, body: bytes
    ) -> AsyncIterator[Frame]:
        """The frames of one streaming call; it holds a slot until it ends or is closed."""
        async with self._slots:
            connection = await self._connection()
            frames = connection.stream(service, method, envelope, body)
            try:
                async for frame in frames:
                    yield frame
            finally:
                await frames.aclose()  # type: ignore[attr-defined]

    async def _connection(self) -> ClientConnection:
        best: ClientConnection | None = None
        live = 0
        for connection in self._connections:
            if connection.usable:
                live += 1
                if best is None or connection.in_flight < best.in_flight:
                    best = connection
        if live != len(self._connections):  # forget the closed ones once their calls ended
            self._connections = [c for c in self._connections if c.usable or c.in_flight]
        if best is None:
            return await self._connect()
        if best.in_flight == 0:
            return best if await self._healthy(best) else await self._connect()
        if live < self._settings.connections:  # busy: spread the load over another one
            try:
                return await self._connect()
            except ConnectFailed:
                pass
        return best

    async def _healthy(self, connection: ClientConnection) -> bool:
        """A connection quiet for ``ping_after`` seconds answers a PING before it is used."""
        if time.monotonic() - connection.last_heard < self._settings.ping_after:
            return True
        try:
            async with asyncio.timeout(_PING_TIMEOUT):
                await connection.ping()
        except (Lost, TimeoutError):
            connection.abort()
            return False
        return True

    async def _connect(self) -> ClientConnection:
        """One connection attempt at a time per address; the others wait for its result."""
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_future()
            try:
                connection = await self._open()
            except BaseException as exc:
                future, self._connecting = self._connecting, None
                future.set_exception(ConnectFailed(str(exc)))
                future.exception()  # nobody else may be waiting: not an unretrieved error
                raise
            future, self._connecting = self._connecting, None
            future.set_result(connection)
            return connection
        return await asyncio.shield(self._connecting)

    async def _open(self) -> ClientConnection:
        now = time.monotonic()
        if now < self._retry_at:
            raise ConnectFailed(f"{self._failure} (trying again in {self._retry_at - now:.2f} s)")
        settings, address = self._settings, self._address
        loop = asyncio.get_running_loop()

        def factory() -> ClientConnection:
            return ClientConnection(max_streams=settings.max_streams, max_frame=settings.max_frame)

        tls = settings.ssl
        try:
            async with asyncio.timeout(settings.connect_timeout):
                if address.is_unix:
                    _, connection = await loop.create_unix_connection(
                        factory, address.path, ssl=tls, server_hostname="" if tls else None
                    )
                else:
                    _, connection = await loop.create_connection(
                        factory, address.host, address.port, ssl=tls
                    )
        except (OSError, TimeoutError) as exc:
            self._backoff = min(_MAX_BACKOFF, max(_FIRST_BACKOFF, self._backoff * 2))
            self._retry_at = time.monotonic() + self._backoff
            self._failure = str(exc) or type(exc).__name__
            raise ConnectFailed(self._failure) from None
        self._backoff = 0.0
        self._connections.append(connection)
        return connection

    def close(self) -> None:
        connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
