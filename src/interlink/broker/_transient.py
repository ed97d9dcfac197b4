"""Shared parts of non-durable request/reply (:class:`DirectRequests`): a server's bounded
queue of requests, a delivery that stores nothing, and a caller's table of waiting requests."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

from interlink._errors import PublishError, ServiceUnavailable
from interlink.broker._base import Reply

__all__ = [
    "REPLY_TO",
    "PendingReplies",
    "TransientDelivery",
    "TransientSubscription",
    "no_responders",
]

REPLY_TO = "x-interlink-reply-to"
"""The header a server's delivery carries its reply address under (the runtime's name too)."""


def no_responders(topic: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"no responder for non-durable requests on {topic!r} (subscribe with durable=False)"
    )


class TransientDelivery:
    """A request as a server holds it: nothing to settle, never delivered again."""

    __slots__ = ("body", "headers", "topic")

    attempt = 1
    key = None

    def __init__(self, topic: str, body: bytes, headers: Mapping[str, str]) -> None:
        self.topic = topic
        self.body = body
        self.headers = headers

    async def ack(self) -> None:
        return None

    async def nack(self, delay: float = 0.0) -> None:
        return None  # nothing keeps it: a request given back is a request lost

    async def term(self) -> None:
        return None

    async def in_progress(self) -> None:
        return None


class TransientSubscription:
    """Requests received for one server, at most ``limit`` unread (see :meth:`offer`)."""

    def __init__(
        self,
        limit: int,
        *,
        on_take: Callable[[TransientDelivery], Awaitable[None]] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._limit = limit
        self._queue: deque[TransientDelivery] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._on_take = on_take
        self.on_close = on_close
        self.closed = False
        self.dropped = 0
        """requests a backend could not queue here (their callers time out)"""

    @property
    def heartbeat(self) -> None:
        return None

    def offer(self, delivery: TransientDelivery) -> bool:
        """Queue it if there is room; False when the queue is full or closed."""
        if self.closed or len(self._queue) >= self._limit:
            return False
        self._queue.append(delivery)
        self._ready.set()
        if len(self._queue) >= self._limit:
            self._room.clear()
        return True

    async def room(self) -> None:
        """Wait until a request can be queued (for backends that pull requests)."""
        await self._room.wait()

    def __aiter__(self) -> TransientSubscription:
        return self

    async def __anext__(self) -> TransientDelivery:
        while not self._queue:
            if self.closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        delivery = self._queue.popleft()
        self._room.set()
        if self._on_take is not None:
            await self._on_take(delivery)
        return delivery

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._ready.set()
        self._room.set()
        if self.on_close is not None:
            await self.on_close()


class PendingReplies:
    """A caller's requests waiting for replies, each under a token of its own (at most
    ``limit`` at once)."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._waiting: dict[str, asyncio.Future[Reply]] = {}
        self._tokens = itertools.count(1)
        self.late = 0

    def open(self) -> tuple[str, asyncio.Future[Reply]]:
        if len(self._waiting) >= self._limit:
            raise PublishError(f"{self._limit} non-durable requests are already waiting")
        token = str(next(self._tokens))
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        return token, future

    def forget(self, token: str) -> None:
        self._waiting.pop(token, None)

    def resolve(self, token: str, reply: Reply) -> None:
        future = self._waiting.pop(token, None)
        if future is None or future.done():
            self.late += 1  # its caller gave up already
        else:
            future.set_result(reply)

    def fail(self, token: str, error: BaseException) -> None:
        future = self._waiting.pop(token, None)
        if future is not None and not future.done():
            future.set_exception(error)

    async def wait(self, token: str, future: asyncio.Future[Reply], timeout: float) -> Reply:
        """The reply, or ``TimeoutError`` after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._waiting.pop(token, None)

    def close(self) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.cancel()
        self._waiting.clear()
