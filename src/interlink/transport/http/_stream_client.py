"""Reading a streaming RPC's NDJSON answer, line by line, on a connection of its own.

The connection reads while fewer than ``_HIGH`` lines wait to be taken, and pauses (so the
server's writes, and then its handler, wait) until the reader has taken them down to
``_LOW``: memory stays bounded by the lines held and the longest line allowed.
"""

from __future__ import annotations

import asyncio
import collections
from typing import cast

import httptools

__all__ = ["LineReader", "StreamLost"]

_HIGH = 32
_LOW = 8


class StreamLost(Exception):
    """The connection ended before the whole answer came back, or the answer was unreadable."""


class LineReader(asyncio.Protocol):
    """An ``asyncio.Protocol``: send one request, then take the answer's status and lines."""

    def __init__(self, max_line: int) -> None:
        self._max_line = max_line
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._lines: collections.deque[bytes] = collections.deque()
        self._partial = bytearray()
        self._status = 0
        self.content_type = b""
        self._done = False
        self._error: str | None = None
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"an answer that is not HTTP/1.1: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self._done:
            self._error = self._error or f"connection closed{f': {exc}' if exc else ''}"
        self._wake()

    # -- httptools callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self.content_type = value

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._wake()

    def on_body(self, body: bytes) -> None:
        partial = self._partial
        partial += body
        if self._status == 200:
            end = partial.find(b"\n")
            while end >= 0:
                self._lines.append(bytes(partial[:end]))
                del partial[: end + 1]
                end = partial.find(b"\n")
            if len(self._lines) >= _HIGH and not self._paused and self._transport is not None:
                self._paused = True
                self._transport.pause_reading()
            self._wake()
        if len(partial) > self._max_line:
            self._fail(f"a line (or error answer) over {self._max_line} bytes")

    def on_message_complete(self) -> None:
        self._done = True
        self._wake()

    # -- use ---------------------------------------------------------------------------------

    def send(self, request: bytes) -> None:
        if self._transport is None:
            raise StreamLost("connection closed")
        self._transport.write(request)

    async def status(self) -> int:
        """The answer's status, once its head has arrived."""
        while not self._status:
            await self._wait()
        return self._status

    async def whole(self) -> bytes:
        """The whole body of a non-200 answer."""
        while not self._done:
            await self._wait()
        return bytes(self._partial)

    async def line(self) -> bytes | None:
        """The next line; None once the answer is complete."""
        while not self._lines:
            if self._done:
                return None
            await self._wait()
        line = self._lines.popleft()
        if self._paused and len(self._lines) <= _LOW and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return line

    def close(self) -> None:
        """Abort unless the answer is complete (a half-read stream must not be reused)."""
        if self._transport is not None:
            if self._done:
                self._transport.close()
            else:
                self._transport.abort()

    async def _wait(self) -> None:
        if self._error is not None:
            raise StreamLost(self._error)
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self._error is not None and not self._lines and not self._done:
            raise StreamLost(self._error)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, why: str) -> None:
        self._error = why
        if self._transport is not None:
            self._transport.abort()
        self._wake()
