"""The client's pool of keep-alive connections, and the one failure of a pooled connection worth
repeating.

At most ``max_connections`` requests are in flight at once and at most that many connections
are open; idle ones are kept per origin, the most recently used taken first, and closed after
``keepalive`` seconds idle (below the server's own keep-alive, so that the client, not the
server, ends an idle connection).

A keep-alive connection can still be closed by the server while it sits idle (it is draining
to stop, or its clock ran ahead). When that close crosses our next request on the wire, the
request meets a FIN or a RST instead of an answer: nothing of the answer arrives (or a reset
comes before its head). :meth:`Pool.post` recognises that case on a pooled connection and sends
the request once more, on a fresh connection.

That retry rests on one assumption: a server that has read a request answers it before it
closes the connection, unless it dies (uvicorn closes a keep-alive connection only while no
request is in it). A server killed after running the handler and before writing its answer
looks the same from here; that is the risk this one retry takes, the one browsers take when
they resend a POST.
"""

from __future__ import annotations

import asyncio
import collections
import ssl

from interlink._wire import Outcome
from interlink.transport.http._connection import Connection, Lost

__all__ = ["ConnectFailed", "Pool", "lost_while_idle"]

Origin = tuple[str, int, bool]
"""host, port, TLS"""


class ConnectFailed(Exception):
    """No connection could be made: the request was provably not sent."""


def lost_while_idle(exc: Lost) -> bool:
    """Whether ``exc`` is a connection taken from the pool that the server had already given
    up: closed before a byte of the answer came back, or reset before the answer's head did."""
    return exc.reused and (not exc.answered or (exc.reset and not exc.head))


class Pool:
    def __init__(
        self,
        *,
        max_connections: int,
        keepalive: float,
        max_response: int,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._max = max_connections
        self._max_response = max_response
        self._keepalive = keepalive
        self._idle: dict[Origin, list[Connection]] = {}
        self._open: set[Connection] = set()
        self._in_flight = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._sweeper: asyncio.TimerHandle | None = None
        self._tls = tls

    async def post(self, origin: Origin, request: bytes) -> Outcome:
        """Send ``request`` (the whole HTTP/1.1 message) to ``origin``; the answer's status and
        body. Raises :class:`ConnectFailed` or :class:`Lost`."""
        if self._in_flight >= self._max:
            await self._wait_for_slot()
        self._in_flight += 1
        try:
            connection = self._take_idle(origin) or await self._connect(origin)
            try:
                return await self._exchange(connection, request)
            except Lost as exc:
                if not lost_while_idle(exc):
                    raise
            # The one retry, on a connection of its own: another pooled one may be just as stale.
            return await self._exchange(await self._connect(origin), request)
        finally:
            self._in_flight -= 1
            self._wake_one()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for connection in list(self._open):
            connection.abort()
        self._idle.clear()

    def forget(self, connection: Connection) -> None:
        """A connection ended (the Connection tells us)."""
        self._open.discard(connection)
        idle = self._idle.get(connection.origin)
        if idle is not None and connection in idle:
            idle.remove(connection)

    async def _exchange(self, connection: Connection, request: bytes) -> Outcome:
        try:
            status, body = await connection.request(request)
        except BaseException:
            connection.abort()  # whatever else it may still receive belongs to no one
            raise
        if connection.keep_alive and connection.usable:
            self._put_idle(connection)
        else:
            connection.close()
        return Outcome(status, body)

    async def _wait_for_slot(self) -> None:
        while self._in_flight >= self._max:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # woken, then cancelled: the turn goes to the next
                else:
                    self._waiting.remove(waiter)
                raise

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _take_idle(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = asyncio.get_running_loop().time()
        while idle:
            connection = idle.pop()
            if connection.usable and now - connection.idle_since < self._keepalive:
                connection.reused = True
                return connection
            connection.close()
        return None

    def _put_idle(self, connection: Connection) -> None:
        loop = asyncio.get_running_loop()
        connection.idle_since = loop.time()
        self._idle.setdefault(connection.origin, []).append(connection)
        if self._sweeper is None:
            self._sweeper = loop.call_later(self._keepalive, self._sweep)

    def _sweep(self) -> None:
        """Close the connections idle for ``keepalive`` seconds (the oldest are first)."""
        self._sweeper = None
        loop = asyncio.get_running_loop()
        cutoff = loop.time() - self._keepalive
        oldest = None
        for idle in self._idle.values():
            while idle and idle[0].idle_since <= cutoff:
                idle.pop(0).close()
            if idle and (oldest is None or idle[0].idle_since < oldest):
                oldest = idle[0].idle_since
        if oldest is not None:
            self._sweeper = loop.call_at(oldest + self._keepalive, self._sweep)

    async def _connect(self, origin: Origin) -> Connection:
        if len(self._open) >= self._max:
            self._close_one_idle()
        host, port, tls = origin
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: Connection(self, origin, self._max_response),
                host,
                port,
                ssl=self._context() if tls else None,
            )
        except OSError as exc:
            raise ConnectFailed(str(exc) or type(exc).__name__) from exc
        self._open.add(connection)
        return connection

    def _close_one_idle(self) -> None:
        candidates = [idle[0] for idle in self._idle.values() if idle]
        if candidates:
            oldest = min(candidates, key=lambda c: c.idle_since)
            self._idle[oldest.origin].remove(oldest)
            oldest.close()

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls
