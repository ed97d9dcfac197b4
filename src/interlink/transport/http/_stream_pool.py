"""A pool of streaming keep-alive connections (see ``_stream``), for the gateway's proxying.

At most ``max_connections`` exchanges run at once (more wait their turn) and at most
``max_idle`` idle connections are kept per origin, the most recently used taken first; one
idle for ``keepalive`` seconds or more is closed when met instead of used, so the client lets
go of an idle connection before the server does (``_client.CLIENT_KEEPALIVE``).
"""

from __future__ import annotations

import asyncio
import collections
import ssl

from interlink.transport.http._client import CLIENT_KEEPALIVE
from interlink.transport.http._pool import ConnectFailed
from interlink.transport.http._stream import StreamConnection

__all__ = ["Slots", "StreamPool"]

Origin = tuple[str, int, bool]


class Slots:
    """At most ``size`` holders at once; the others wait in arrival order. A semaphore without
    ``asyncio.Semaphore``'s scan of its waiters on every acquire: taking a free slot is one
    comparison when nobody waits. A freed slot goes straight to the first waiter."""

    __slots__ = ("_free", "_waiters")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, not {size!r}")
        self._free = size
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def free(self) -> int:
        return self._free

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def take(self) -> bool:
        """Take a free slot at once if nobody waits for one; False otherwise."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def acquire(self) -> None:
        if self.take():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot, then cancelled: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class StreamPool:
    def __init__(
        self,
        *,
        max_connections: int = 1024,
        max_idle: int = 256,
        keepalive: float = CLIENT_KEEPALIVE,
        buffer: int = 256 * 1024,
    ) -> None:
        self._slots = Slots(max_connections)
        self._max_idle = max_idle
        self._keepalive = keepalive
        self._buffer = buffer
        self._idle: dict[Origin, list[StreamConnection]] = {}
        self._open: set[StreamConnection] = set()
        self._tls: ssl.SSLContext | None = None

    async def acquire(self, origin: Origin, *, fresh: bool = False) -> StreamConnection:
        """An idle connection to ``origin`` (unless ``fresh``) or a new one; raises
        :class:`ConnectFailed`. Every acquired connection must be ``release``d or aborted,
        then :meth:`done` called once."""
        if not self._slots.take():
            await self._slots.acquire()
        try:
            connection = None if fresh else self._take_idle(origin)
            return connection or await self._connect(origin)
        except BaseException:
            self._slots.release()
            raise

    @property
    def slots(self) -> Slots:
        return self._slots

    def done(self) -> None:
        """An exchange ended: its slot is free."""
        self._slots.release()

    def put_idle(self, connection: StreamConnection) -> None:
        idle = self._idle.setdefault(connection.origin, [])
        if len(idle) >= self._max_idle:
            connection.abort()
            return
        connection.idle_since = connection.loop.time()
        idle.append(connection)

    def forget(self, connection: StreamConnection) -> None:
        self._open.discard(connection)
        idle = self._idle.get(connection.origin)
        if idle is not None and connection in idle:
            idle.remove(connection)
            if not idle:  # an instance that went away leaves no entry behind
                del self._idle[connection.origin]

    async def close(self) -> None:
        for connection in list(self._open):
            connection.abort()
        self._open.clear()
        self._idle.clear()

    def _take_idle(self, origin: Origin) -> StreamConnection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = idle[-1].loop.time()
        while idle:
            connection = idle.pop()
            if connection.usable and now - connection.idle_since < self._keepalive:
                connection.reused = True
                return connection
            connection.abort()
        return None

    async def _connect(self, origin: Origin) -> StreamConnection:
        host, port, tls = origin
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: StreamConnection(self, origin, self._buffer),
                host,
                port,
                ssl=self._context() if tls else None,
            )
        except OSError as exc:
            raise ConnectFailed(str(exc) or type(exc).__name__) from exc
        self._open.add(connection)
        return connection

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls
