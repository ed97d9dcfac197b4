"""One keep-alive HTTP/1.1 connection to a server, one request at a time.

The request goes out as one write of bytes built by the caller; the answer is parsed by
httptools (llhttp, the parser uvicorn uses): status, a body of ``Content-Length`` bytes,
chunked, or one that ends with the connection. What a lost connection had received is kept
on the error (:class:`Lost`), so the pool can tell a connection the server had closed while it
sat idle (nothing of the answer came back) from a call that failed mid-way.
"""

from __future__ import annotations

import asyncio
import errno
from typing import TYPE_CHECKING, cast

import httptools

if TYPE_CHECKING:
    from interlink.transport.http._pool import Pool

__all__ = ["MAX_RESPONSE", "Connection", "Lost"]

MAX_RESPONSE = 64 * 1024 * 1024
"""The largest answer body read by default; a longer one fails the call (memory stays
bounded)."""

# What a write into, or a read from, a connection the peer had already closed meets.
_RESETS = frozenset({errno.ECONNRESET, errno.EPIPE})


class Lost(Exception):
    """The connection ended before the whole answer came back."""

    def __init__(self, why: str, *, reused: bool, answered: bool, head: bool, reset: bool) -> None:
        super().__init__(why)
        self.reused = reused
        """The connection had served a request before this one (it came from the pool)."""
        self.answered = answered
        """Some of the answer had arrived."""
        self.head = head
        """The answer's status line and headers had all arrived."""
        self.reset = reset
        """The peer reset the connection (a RST), rather than closing it (a FIN)."""


class Connection(asyncio.Protocol):
    """An ``asyncio.Protocol``: ``await connection.request(data)`` gives ``(status, body)``."""

    def __init__(self, pool: Pool, origin: tuple[str, int, bool], max_response: int) -> None:
        self.origin = origin
        self._max_response = max_response
        self.reused = False
        self.idle_since = 0.0
        self.keep_alive = True
        self._pool = pool
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._body: list[bytes] = []
        self._size = 0
        self._answered = False
        self._head = False
        self._sized = False  # Content-Length or chunked: the body's end is known

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the connection cannot be trusted
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
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if exc is None and self._head and not self._sized:  # the body ended with the connection
            self._complete()
            return
        reset = isinstance(exc, OSError) and exc.errno in _RESETS
        why = "connection reset" if reset else f"connection closed{f': {exc}' if exc else ''}"
        self._fail(why, reset=reset)

    # -- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self._sized = True

    def on_headers_complete(self) -> None:
        self._head = True
        if self._parser.get_status_code() in (204, 304):
            self._sized = True

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._max_response:
            self._fail(f"an answer over {self._max_response} bytes", reset=False)
            self.abort()
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() < 200:  # 1xx: the real answer follows
            self._body, self._size, self._head, self._sized = [], 0, False, False
            return
        self.keep_alive = self._parser.should_keep_alive()
        self._complete()

    # -- use ---------------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Send one request; the future gives ``(status, body)`` or raises :class:`Lost`."""
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        self._answered = self._head = self._sized = False
        transport = self._transport
        if transport is None or transport.is_closing():
            self._fail("connection closed", reset=False)
        else:
            transport.write(data)
        return waiter

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _complete(self) -> None:
        waiter, self._waiter = self._waiter, None
        body = b"".join(self._body)
        self._body, self._size = [], 0
        if waiter is not None and not waiter.done():
            waiter.set_result((self._parser.get_status_code(), body))

    def _fail(self, why: str, *, reset: bool) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(
                Lost(why, reused=self.reused, answered=self._answered, head=self._head, reset=reset)
            )
