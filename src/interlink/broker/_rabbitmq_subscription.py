"""A member's RabbitMQ consumers (unkeyed queue, partition queues) read as one Subscription."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from interlink.broker._base import Reply

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

__all__ = ["KEY_HEADER", "RabbitDelivery", "RabbitInbox", "RabbitSubscription", "headers_of"]

KEY_HEADER = "x-il-key"
_PRIVATE = (KEY_HEADER, "x-delivery-count", "x-il-ref")


def headers_of(message: AbstractIncomingMessage) -> tuple[str | None, dict[str, str]]:
    raw: Mapping[str, Any] = message.headers or {}
    key = raw.get(KEY_HEADER)
    headers = {k: _text(v) for k, v in raw.items() if k not in _PRIVATE}
    return (_text(key) if key is not None else None), headers


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RabbitDelivery:
    __slots__ = ("_done", "_message", "_sub", "attempt", "body", "headers", "key", "topic")

    def __init__(self, sub: RabbitSubscription, message: AbstractIncomingMessage) -> None:
        self._sub = sub
        self._message = message
        self.topic = sub.topic
        self.body = message.body
        self.key, self.headers = headers_of(message)
        # Quorum queues count earlier deliveries in x-delivery-count.
        count: Any = (message.headers or {}).get("x-delivery-count", 0)
        self.attempt = 1 + int(count or 0)
        if self.attempt == 1 and message.redelivered:
            self.attempt = 2
        self._done = False

    async def ack(self) -> None:
        if not self._done:
            self._done = True
            await self._message.ack()
            self._sub.settled()

    async def term(self) -> None:
        await self.ack()

    async def nack(self, delay: float = 0.0) -> None:
        if self._done:
            return
        self._done = True
        if delay > 0:
            # Held here, unacknowledged, then returned: it keeps its place (and its key's turn).
            await asyncio.sleep(delay)
        await self._message.nack(requeue=True)
        self._sub.settled()

    async def in_progress(self) -> None:
        """RabbitMQ takes a delivery back only when its channel closes."""


class RabbitSubscription:
    def __init__(self, topic: str, channel: AbstractChannel, *, private: bool) -> None:
        self.topic = topic
        self._channel = channel
        self._queue: asyncio.Queue[RabbitDelivery | None] = asyncio.Queue()
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._closed = False
        self.private = private
        self.on_close: Callable[[], Awaitable[object]] | None = None

    @property
    def heartbeat(self) -> None:
        return None

    async def consume(self, queue: AbstractQueue, prefetch: int) -> None:
        await self._channel.set_qos(prefetch_count=prefetch)
        tag = await queue.consume(self._arrive)
        self._consumers.append((queue, tag))

    async def _arrive(self, message: AbstractIncomingMessage) -> None:
        if self._closed:
            await message.nack(requeue=True)
            return
        self._queue.put_nowait(RabbitDelivery(self, message))

    def settled(self) -> None:
        """Nothing to count: the channel's prefetch is the member's bound."""

    def __aiter__(self) -> RabbitSubscription:
        return self

    async def __anext__(self) -> RabbitDelivery:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        delivery = await self._queue.get()
        if delivery is None:
            raise StopAsyncIteration
        return delivery

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for queue, tag in self._consumers:
            if self._channel.is_closed:  # its broker closed: the server ended the consumers
                break
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await queue.cancel(tag)
        while not self._queue.empty():
            waiting = self._queue.get_nowait()
            if waiting is not None:
                with contextlib.suppress(Exception):
                    await waiting.nack()
        self._queue.put_nowait(None)
        if self.on_close is not None:
            with contextlib.suppress(Exception):
                await self.on_close()


class RabbitInbox:
    """An exclusive, auto-deleted reply queue; replies are published to it by name."""

    def __init__(self, queue: AbstractQueue) -> None:
        self.address = queue.name
        self._queue = queue
        self._replies: asyncio.Queue[Reply | None] = asyncio.Queue()
        self._tag: str | None = None

    async def open(self) -> None:
        self._tag = await self._queue.consume(self._arrive, no_ack=True)

    async def _arrive(self, message: AbstractIncomingMessage) -> None:
        self._replies.put_nowait(Reply(headers_of(message)[1], message.body))

    def __aiter__(self) -> RabbitInbox:
        return self

    async def __anext__(self) -> Reply:
        reply = await self._replies.get()
        if reply is None:
            self._replies.put_nowait(None)
            raise StopAsyncIteration
        return reply

    async def close(self) -> None:
        if self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
            self._tag = None
        self._replies.put_nowait(None)
