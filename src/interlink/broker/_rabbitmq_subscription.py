"""A member's RabbitMQ consumers (unkeyed queue, partition queues) read as one Subscription."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from interlink.broker._base import Reply
from interlink.broker._rabbitmq_delay import ATTEMPTS_HEADER, DelayQueues

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

__all__ = ["KEY_HEADER", "RabbitDelivery", "RabbitInbox", "RabbitSubscription", "headers_of"]

log = logging.getLogger("interlink")

KEY_HEADER = "x-il-key"
_PRIVATE = (
    *(KEY_HEADER, "x-delivery-count", "x-il-ref", ATTEMPTS_HEADER, "x-death"),
    *("x-first-death-exchange", "x-first-death-queue", "x-first-death-reason"),
    *("x-last-death-exchange", "x-last-death-queue", "x-last-death-reason"),
)


def headers_of(message: AbstractIncomingMessage) -> tuple[str | None, dict[str, str]]:
    raw: Mapping[str, Any] = message.headers or {}
    key = raw.get(KEY_HEADER)
    headers = {k: _text(v) for k, v in raw.items() if k not in _PRIVATE}
    return (_text(key) if key is not None else None), headers


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RabbitDelivery:
    __slots__ = (
        *("_back", "_done", "_message", "_sub"),
        *("attempt", "body", "headers", "key", "topic"),
    )

    def __init__(
        self,
        sub: RabbitSubscription,
        message: AbstractIncomingMessage,
        back: tuple[DelayQueues, str] | None,
    ) -> None:
        self._sub = sub
        self._message = message
        self._back = back
        self.topic = sub.topic
        self.body = message.body
        self.key, self.headers = headers_of(message)
        # Quorum queues count earlier deliveries in x-delivery-count; a trip through a delay
        # queue carries the count before it (the copy starts again from zero).
        raw: Mapping[str, Any] = message.headers or {}
        before = int(raw.get(ATTEMPTS_HEADER, 0) or 0)
        count = int(raw.get("x-delivery-count", 0) or 0)
        if count == 0 and message.redelivered:
            count = 1  # a classic queue only says "delivered before"
        self.attempt = before + 1 + count
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
        if delay > 0 and self._back is not None:
            delays, queue = self._back
            try:
                await delays.send_back(queue, self._message, delay, self.attempt)
            except Exception as exc:  # not confirmed: hold it here instead, as below
                log.warning("could not send a message through a delay queue: %r", exc)
            else:
                # Acked only now: a crash before this leaves both, never neither.
                await self._message.ack()
                self._sub.settled()
                return
        if delay > 0:
            # Held here, unacknowledged, then returned: it keeps its place (and its key's turn).
            await asyncio.sleep(delay)
        await self._message.nack(requeue=True)
        self._sub.settled()

    async def in_progress(self) -> None:
        """RabbitMQ takes a delivery back only when its channel closes."""


class RabbitSubscription:
    def __init__(self, topic: str, *, private: bool) -> None:
        self.topic = topic
        self._queue: asyncio.Queue[RabbitDelivery | None] = asyncio.Queue()
        self._consumers: list[tuple[AbstractChannel, AbstractQueue, str]] = []
        self._closed = False
        self._late: list[AbstractIncomingMessage] | None = []
        self.private = private
        self.on_close: Callable[[], Awaitable[object]] | None = None

    @property
    def heartbeat(self) -> None:
        return None

    async def consume(
        self,
        channel: AbstractChannel,
        queue: AbstractQueue,
        prefetch: int,
        delays: DelayQueues | None = None,
    ) -> None:
        """Consume ``queue`` (declared on ``channel``) with a prefetch of ``prefetch``; with
        ``delays``, a ``nack(delay)`` goes through its delay queues instead of being held.

        The prefetch is the channel's: every queue consumed on one channel must ask the same,
        as a reconnect restores the channel's last prefetch before it restores its consumers.
        """
        back = None if delays is None else (delays, queue.name)

        async def arrive(message: AbstractIncomingMessage) -> None:
            if self._closed:
                # Returned once the consumers are cancelled: returned now, the server would
                # hand it straight back, again and again, each time counted as a delivery.
                if self._late is None:
                    await message.nack(requeue=True)
                else:
                    self._late.append(message)
                return
            self._queue.put_nowait(RabbitDelivery(self, message, back))

        await channel.set_qos(prefetch_count=prefetch)
        tag = await queue.consume(arrive)
        self._consumers.append((channel, queue, tag))

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
        for channel, queue, tag in self._consumers:
            if channel.is_closed:  # its broker closed: the server ended the consumers
                continue
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await queue.cancel(tag)
        late, self._late = self._late or [], None
        for message in late:  # at most the prefetch of each consumer
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
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
