"""One client connection: many calls at once, each on its own stream id.

Invariant: a stream id is in ``_streams`` exactly while its caller waits for the answer; an
answer for any other id (a call already cancelled or timed out) is dropped.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from interlink._wire import Outcome
from interlink.transport.socket._frame import (
    CANCEL,
    GOAWAY,
    PING,
    PONG,
    RESPONSE,
    STREAM_END,
    STREAM_ITEM,
    STREAM_OPEN,
    Frame,
    FrameReader,
    ProtocolError,
    encode_frame,
    encode_request,
)
from interlink.transport.socket._streaming import WINDOW_ITEMS, Inbox, window_frame

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from interlink._envelope import Envelope

__all__ = ["ClientConnection", "Lost"]

_LAST_STREAM = 0x7FFF_FFFF


class Lost(Exception):
    """The connection ended while a call waited: the call may or may not have run."""


class ClientConnection(asyncio.Protocol):
    def __init__(self, *, max_streams: int, max_frame: int) -> None:
        self.max_streams = max_streams
        self._reader = FrameReader(max_frame)
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, asyncio.Future[Frame]] = {}
        self._inboxes: dict[int, Inbox] = {}
        """per streaming call being read: the frames it has not taken yet"""
        self._next = 1
        self._paused: asyncio.Future[None] | None = None
        self.goaway: str | None = None
        """Why the server asked for no new streams here, once it has."""
        self.lost: str | None = None
        self.last_heard = time.monotonic()

    @property
    def in_flight(self) -> int:
        return len(self._streams) + len(self._inboxes)

    @property
    def usable(self) -> bool:
        """Open, not told to go away, and stream ids left."""
        return (
            self._transport is not None
            and self.goaway is None
            and self._next < _LAST_STREAM
            and not self._transport.is_closing()
        )

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        reason = self.goaway or (str(exc) if exc else "closed by the server")
        self.lost = reason
        streams, self._streams = self._streams, {}
        for future in streams.values():
            if not future.done():
                future.set_exception(Lost(reason))
        inboxes, self._inboxes = self._inboxes, {}
        for inbox in inboxes.values():
            inbox.lose(Lost(reason))
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)

    def pause_writing(self) -> None:
        self._paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        paused, self._paused = self._paused, None
        if paused is not None and not paused.done():
            paused.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.last_heard = time.monotonic()
        try:
            frames = self._reader.feed(data)
        except ProtocolError as exc:
            self.goaway = f"the server broke the framing: {exc}"
            self.close()
            return
        for frame in frames:
            kind = frame.kind
            if kind in (RESPONSE, PONG):
                future = self._streams.pop(frame.stream, None)
                if future is not None:
                    if not future.done():
                        future.set_result(frame)
                elif frame.stream in self._inboxes:  # a streaming call refused: its end
                    self._inboxes[frame.stream].put(frame)
            elif kind in (STREAM_ITEM, STREAM_END):
                inbox = self._inboxes.get(frame.stream)
                if inbox is not None:
                    inbox.put(frame)
            elif kind == GOAWAY:
                self.goaway = frame.header.decode("utf-8", "replace") or "GOAWAY"
            elif kind == PING:
                self._write(encode_frame(frame.stream, PONG))

    # -- calls -----------------------------------------------------------------------------

    async def call(self, service: str, method: str, envelope: Envelope, body: bytes) -> Outcome:
        """Send one request and wait for its answer; a cancelled wait cancels the call on the
        server. Lost when the connection ends first; ResponseTooLarge past ``max_frame``."""
        stream = self._next
        self._next = stream + 2
        frame = encode_request(stream, service, method, envelope, body)
        answer = await self._exchange(stream, frame)
        if answer.oversized:
            raise ResponseTooLarge(f"{service}.{method} answered with a frame over the limit")
        return Outcome(int.from_bytes(answer.header, "big"), answer.body)

    async def stream(
        self, service: str, method: str, envelope: Envelope, body: bytes
    ) -> AsyncIterator[Frame]:
        """Open a streaming call; yield its frames: STREAM_ITEMs, then its end (a STREAM_END,
        or a RESPONSE with the error when the server refused it at once). Gives
        credit back as items are taken; closed before its end, it cancels the call."""
        if self._paused is not None:
            await asyncio.shield(self._paused)
        if self._transport is None:
            raise Lost(self.lost or "not connected")
        stream = self._next
        self._next = stream + 2
        inbox = self._inboxes[stream] = Inbox()
        self._transport.write(encode_request(stream, service, method, envelope, body, STREAM_OPEN))
        taken = 0
        ended = False
        try:
            while not ended:
                frame = await inbox.get()
                ended = frame.kind != STREAM_ITEM
                yield frame
                taken += 1
                if taken >= WINDOW_ITEMS // 2:
                    self._write(window_frame(stream, taken))
                    taken = 0
        finally:
            if self._inboxes.pop(stream, None) is not None and not ended:
                self._write(encode_frame(stream, CANCEL))

    async def ping(self) -> None:
        """Wait for the server to answer a PING (Lost if the connection ends first)."""
        stream = self._next
        self._next = stream + 2
        await self._exchange(stream, encode_frame(stream, PING))

    async def _exchange(self, stream: int, frame: bytes) -> Frame:
        if self._paused is not None:
            # Shielded: a waiter that gives up must not cancel the others' shared future.
            await asyncio.shield(self._paused)
        if self._transport is None:
            raise Lost(self.lost or "not connected")
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._streams[stream] = future
        self._transport.write(frame)
        try:
            return await future
        except asyncio.CancelledError:
            if self._streams.pop(stream, None) is not None:
                self._write(encode_frame(stream, CANCEL))
            raise

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class ResponseTooLarge(Exception):
    """The server's answer was over the client's frame limit (its bytes were skipped)."""
