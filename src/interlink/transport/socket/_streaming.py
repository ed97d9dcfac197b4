"""Streaming calls on a socket connection: items as STREAM_ITEM frames within the reader's
credit, then a STREAM_END with the status.

Flow control, per stream: the server may send ``WINDOW_ITEMS`` items ahead of what the reader
took; the reader returns credit with WINDOW frames as it takes items. A handler whose reader
stops taking items waits, after at most ``WINDOW_ITEMS`` items, until it takes more: the
reader holds at most that many items in memory.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator, Awaitable, Callable

from interlink._streaming import StreamFailed
from interlink._wire import Outcome
from interlink.transport.socket._frame import (
    STREAM_END,
    STREAM_ITEM,
    WINDOW,
    Frame,
    encode_frame,
)

__all__ = [
    "WINDOW_ITEMS",
    "Credit",
    "Inbox",
    "end_outcome",
    "send_items",
    "start_sending",
    "window_frame",
]

WINDOW_ITEMS = 16
"""Items a stream's producer may run ahead of its reader."""


def window_frame(stream: int, items: int) -> bytes:
    return encode_frame(stream, WINDOW, items.to_bytes(4, "big"))


class Credit:
    """How many more items one stream may send; ``take`` waits while there are none."""

    def __init__(self, items: int) -> None:
        self._items = items
        self._waiter: asyncio.Future[None] | None = None

    def add(self, items: int) -> None:
        self._items += items
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def take(self) -> None:
        while self._items <= 0:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        self._items -= 1


async def send_items(
    stream: int,
    items: AsyncIterator[bytes],
    credit: Credit,
    write: Callable[[bytes], None],
    writable: Callable[[], Awaitable[None]],
) -> None:
    """Send the items of ``items`` on ``stream`` within ``credit``, then its end. ``writable``
    waits while the connection's write buffer is full."""
    # The frames one turn of the loop produces go out in one write, at the end of the turn.
    pending: list[bytes] = []
    loop = asyncio.get_running_loop()

    def flush() -> None:
        write(b"".join(pending))
        pending.clear()

    def send(frame: bytes) -> None:
        pending.append(frame)
        if len(pending) == 1:
            loop.call_soon(flush)

    status, body = 200, b""
    try:
        async for item in items:
            await credit.take()
            await writable()
            send(encode_frame(stream, STREAM_ITEM, b"", item))
    except StreamFailed as exc:
        status, body = exc.outcome.status, exc.outcome.body
    finally:
        await items.aclose()  # type: ignore[attr-defined]
    send(encode_frame(stream, STREAM_END, status.to_bytes(2, "big"), body))


def start_sending(
    stream: int,
    items: AsyncIterator[bytes],
    tasks: dict[int, asyncio.Task[None]],
    credits: dict[int, Credit],
    write: Callable[[bytes], None],
    writable: Callable[[], Awaitable[None]],
) -> None:
    """Run :func:`send_items` in a task of its own, listed in ``tasks`` (CANCEL and a lost
    connection cancel it) and its credit in ``credits`` (WINDOW frames add to it)."""
    credit = credits[stream] = Credit(WINDOW_ITEMS)

    async def run() -> None:
        try:
            await send_items(stream, items, credit, write, writable)
        except asyncio.CancelledError:
            return  # the reader cancelled, or left
        finally:
            tasks.pop(stream, None)
            credits.pop(stream, None)

    tasks[stream] = asyncio.get_running_loop().create_task(run())


class Inbox:
    """The frames of one stream on the reading side, in order; bounded by the window."""

    def __init__(self) -> None:
        self._frames: collections.deque[Frame] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._lost: Exception | None = None

    def put(self, frame: Frame) -> None:
        self._frames.append(frame)
        self._wake()

    def lose(self, exc: Exception) -> None:
        self._lost = exc
        self._wake()

    async def get(self) -> Frame:
        while not self._frames:
            if self._lost is not None:
                raise self._lost
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._frames.popleft()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def end_outcome(frame: Frame) -> Outcome | None:
    """None for a STREAM_END that says the stream finished well, else its failure."""
    status = int.from_bytes(frame.header, "big")
    return None if status == 200 else Outcome(status, frame.body)
