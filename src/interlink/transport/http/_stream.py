"""One keep-alive HTTP/1.1 connection that streams both ways, for proxying.

Unlike :class:`~interlink.transport.http._connection.Connection`, which sends one prebuilt
request and gathers the whole answer, this one writes the request in pieces (waiting while the
peer's socket buffer is full) and hands the answer out as it arrives: the head first, then the
body chunk by chunk. At most ``buffer`` bytes of body wait here unread; past that, reading from
the socket pauses until the reader catches up, so a slow client never grows the proxy's memory.
"""

from __future__ import annotations

import asyncio
import collections
import errno
from typing import TYPE_CHECKING, cast

import httptools

from interlink.transport.http._connection import Lost

if TYPE_CHECKING:
    from interlink.transport.http._stream_pool import StreamPool

__all__ = ["Head", "StreamConnection"]

Head = tuple[int, list[tuple[bytes, bytes]]]
"""An answer's status and headers (names as sent)."""

_RESETS = frozenset({errno.ECONNRESET, errno.EPIPE})


class StreamConnection(asyncio.Protocol):
    """``start`` an exchange, ``write`` the request, await ``head()``, then ``chunk()`` until
    it gives None; ``release()`` hands the connection back (or closes it)."""

    def __init__(self, pool: StreamPool, origin: tuple[str, int, bool], buffer: int) -> None:
        self.origin = origin
        self.loop = asyncio.get_running_loop()
        """The loop the connection lives on (kept: each lookup costs a system call on 3.11)."""
        self.reused = False
        self.idle_since = 0.0
        self.keep_alive = True
        self._pool = pool
        self._limit = buffer
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers: list[tuple[bytes, bytes]] = []
        self._head: asyncio.Future[Head] | None = None
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._complete = False
        self._error: Lost | None = None
        self._wake: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._answered = False
        self._head_only = False

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._head is None:  # bytes nobody asked for: the connection cannot be trusted
            self.abort()
            return
        self._answered = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"an answer that is not HTTP/1.1: {exc}", reset=False)
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._pool.forget(self)
        self._wake_drain()
        if self._head is None or self._complete:
            return
        if exc is None and self._head.done() and not self._sized():
            self._finish()  # the body ended with the connection
            self.keep_alive = False
            return
        reset = isinstance(exc, OSError) and exc.errno in _RESETS
        self._fail("connection reset" if reset else "connection closed", reset=reset)

    def pause_writing(self) -> None:
        if self._drain is None:
            self._drain = self.loop.create_future()

    def resume_writing(self) -> None:
        self._wake_drain()

    # -- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            return
        head = self._head
        if head is not None and not head.done():
            head.set_result((status, self._headers))
        if self._head_only:  # no body follows; the parser cannot know, so do not reuse
            self.keep_alive = False
            self._finish()

    def on_body(self, body: bytes) -> None:
        if self._complete:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > self._limit and not self._reading_paused and self._transport:
            self._reading_paused = True
            self._transport.pause_reading()
        self._wake_reader()

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() < 200:  # 1xx: the real answer follows
            self._headers = []
            return
        if not self._complete:
            self.keep_alive = self.keep_alive and self._parser.should_keep_alive()
            self._finish()

    # -- use ---------------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    @property
    def drained(self) -> bool:
        """The body is complete and every piece of it handed out."""
        return self._complete and not self._chunks and self._error is None

    def start(self, *, head_only: bool = False) -> None:
        """Begin an exchange (the connection must be idle)."""
        self._head = self.loop.create_future()
        self._headers, self._chunks, self._buffered = [], collections.deque(), 0
        self._complete, self._error, self._answered = False, None, False
        self._head_only = head_only

    async def write(self, data: bytes) -> None:
        """Send request bytes, waiting while the socket's buffer is full."""
        if self._error is not None:
            raise self._error
        transport = self._transport
        if transport is None or transport.is_closing():
            raise Lost(
                "connection closed", reused=self.reused, answered=False, head=False, reset=False
            )
        transport.write(data)
        if self._drain is not None:
            await self._drain

    async def head(self) -> Head:
        assert self._head is not None
        return await self._head

    async def chunk(self) -> bytes | None:
        """The next piece of the body, or None once it is complete; raises :class:`Lost`."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._complete:
                return None
            self._wake = self.loop.create_future()
            await self._wake
        data = self._chunks.popleft()
        self._buffered -= len(data)
        if self._reading_paused and self._buffered <= self._limit // 2 and self._transport:
            self._reading_paused = False
            self._transport.resume_reading()
        return data

    def release(self) -> None:
        """Back to the pool if the answer was read to its end and the connection may be
        reused; closed otherwise."""
        self._head = None
        if self._complete and self.keep_alive and self._error is None and self.usable:
            self._pool.put_idle(self)
        else:
            self.abort()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def lost(self, why: str) -> Lost:
        head = self._head is not None and self._head.done()
        return Lost(why, reused=self.reused, answered=self._answered, head=head, reset=False)

    # -- inside ------------------------------------------------------------------------------

    def _sized(self) -> bool:
        names = {name.lower() for name, _ in self._headers}
        return b"content-length" in names or b"transfer-encoding" in names

    def _finish(self) -> None:
        self._complete = True
        self._wake_reader()

    def _fail(self, why: str, *, reset: bool) -> None:
        head = self._head
        self._error = Lost(
            why,
            reused=self.reused,
            answered=self._answered,
            head=head is not None and head.done(),
            reset=reset,
        )
        if head is not None and not head.done():
            head.set_exception(self._error)
            head.exception()  # retrieved: whoever awaits it raises it
        self._wake_reader()

    def _wake_reader(self) -> None:
        wake, self._wake = self._wake, None
        if wake is not None and not wake.done():
            wake.set_result(None)

    def _wake_drain(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)
