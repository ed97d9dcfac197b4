"""Non-durable request/reply on RabbitMQ: direct reply-to, outside every durable queue.

A request is published (``mandatory``, and confirmed: RabbitMQ confirms a transient message
once it is routed) to the default exchange with the routing key
``il.rr.<topic>``: a non-durable, auto-deleted queue its servers consume together, so each
request goes to one of them. With no server the queue does not exist and RabbitMQ returns the
request at once ("no responder"); when the last server leaves, the queue and the requests in
it are deleted. A request expires in the queue once its caller's timeout has passed. The
caller consumes ``amq.rabbitmq.reply-to`` on the channel it publishes on, so replies come
straight back without a queue; they are matched by correlation id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from interlink.broker._base import Reply
from interlink.broker._rabbitmq_subscription import headers_of
from interlink.broker._transient import (
    REPLY_TO,
    PendingReplies,
    TransientDelivery,
    TransientSubscription,
    no_responders,
)

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

__all__ = ["RabbitRequests"]

_DIRECT = "amq.rabbitmq.reply-to"
_SEP = "#"


class _Request(TransientDelivery):
    __slots__ = ("message",)

    def __init__(self, topic: str, message: AbstractIncomingMessage) -> None:
        address = f"{message.reply_to}{_SEP}{message.correlation_id}"
        super().__init__(topic, message.body, {REPLY_TO: address})
        self.message = message


async def _take(delivery: TransientDelivery) -> None:
    # Acked when the runtime takes it: the prefetch bounds what waits unread here, and a
    # request a server took is never handed to another one (it is lost with its server).
    if isinstance(delivery, _Request):
        await delivery.message.ack()


class RabbitRequests:
    """One per broker: a channel for requests and their replies (opened on the first
    request), one for the replies of this process's servers, one per server."""

    def __init__(self, connection: AbstractConnection) -> None:
        self._connection = connection
        self._pending = PendingReplies()
        self._channel: AbstractChannel | None = None
        self._replying: AbstractChannel | None = None
        self._opening = asyncio.Lock()
        self._servers: list[AbstractChannel] = []

    async def request(self, topic: str, body: bytes, timeout: float) -> Reply:
        import aio_pika

        channel = self._channel or await self._open()
        token, future = self._pending.open()
        message = aio_pika.Message(
            body,
            reply_to=_DIRECT,
            correlation_id=token,
            message_id=token,
            expiration=max(timeout, 0.001),
        )
        try:
            # The confirm comes right after RabbitMQ routed it, well before the reply; an
            # unroutable request (no queue: no server) is returned first, and raises here.
            await channel.default_exchange.publish(message, f"il.rr.{topic}", mandatory=True)
        except aio_pika.exceptions.DeliveryError:
            self._pending.forget(token)
            raise no_responders(topic) from None
        except BaseException:
            self._pending.forget(token)
            raise
        return await self._pending.wait(token, future, timeout)

    async def _open(self) -> AbstractChannel:
        async with self._opening:
            if self._channel is None:
                channel = await self._connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
                queue = await channel.get_queue(_DIRECT, ensure=False)
                await queue.consume(self._arrive, no_ack=True)
                self._channel = channel
        return self._channel

    async def _arrive(self, message: AbstractIncomingMessage) -> None:
        self._pending.resolve(
            message.correlation_id or "", Reply(headers_of(message)[1], message.body)
        )

    @staticmethod
    def owns(address: str) -> bool:
        return address.startswith(_DIRECT)

    async def reply(self, address: str, body: bytes, headers: Mapping[str, str]) -> None:
        import aio_pika

        if self._replying is None:
            self._replying = await self._connection.channel(publisher_confirms=False)
        route, _, token = address.partition(_SEP)
        message = aio_pika.Message(body, headers=dict(headers) or None, correlation_id=token)
        await self._replying.default_exchange.publish(message, route, mandatory=False)

    async def serve(self, topic: str, max_in_flight: int) -> TransientSubscription:
        channel = await self._connection.channel(publisher_confirms=False)
        self._servers.append(channel)
        await channel.set_qos(prefetch_count=max_in_flight)
        queue = await channel.declare_queue(f"il.rr.{topic}", durable=False, auto_delete=True)
        subscription = TransientSubscription(max_in_flight, on_take=_take)

        async def arrive(message: AbstractIncomingMessage) -> None:
            if not subscription.offer(_Request(topic, message)):  # closed: it goes back
                await message.nack(requeue=True)

        tag = await queue.consume(arrive)

        async def leave() -> None:
            self._servers.remove(channel)
            if not channel.is_closed:
                await queue.cancel(tag)
                await channel.close()

        subscription.on_close = leave
        return subscription

    async def close(self) -> None:
        self._pending.close()
        for channel in (self._channel, self._replying, *self._servers):
            if channel is not None and not channel.is_closed:
                await channel.close()
        self._channel = self._replying = None
        self._servers.clear()
