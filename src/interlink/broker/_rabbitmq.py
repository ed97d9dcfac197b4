"""``amqp://user:pass@host:port/vhost``: RabbitMQ behind the Broker seam (aio-pika).

A topic is a durable direct exchange ``il.<topic>`` (its partition count in its arguments, so
a process with another count is refused). An unkeyed message is routed with ``u``, a keyed one
with ``p.<n>``, ``n`` the CRC-32 of the key modulo ``partitions``. A group is a durable quorum
queue ``il.<topic>.<group>`` bound to ``u``, plus one classic queue per partition with single
active consumer (classic, so a returned message keeps its place): a partition is consumed by
one member at a time, with a prefetch of one (on a channel of its own, so a reconnect restores
it), so a key's next message is delivered only once the previous one is settled, and a message
returned (nacked, or its member's channel closed) is delivered again before later ones. A
delayed ``nack`` of an unkeyed message goes through the group's delay queues
(``_rabbitmq_delay``). A dead-letter topic (``*.dlq``) also keeps a queue
``il.<topic>.retained`` that ``read``, ``remove`` and ``purge`` work on. Messages are
persistent; publishes wait for the publisher confirm (concurrent publishes pipeline) and fail
at once while the connection is being re-established.

Queues hand a message out and forget it once acknowledged: no history is kept, so a group
cannot start from earlier messages (``start_from``), and only dead-letter topics can be read,
not by time (``read(since=…, until=…)``); the others raise ``ConfigurationError``.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interlink._errors import ConfigurationError, PublishError
from interlink.broker._base import Reply, StoredMessage, SubscriptionStats
from interlink.broker._nats_streams import key_partition
from interlink.broker._rabbitmq_delay import DelayQueues
from interlink.broker._rabbitmq_requests import RabbitRequests
from interlink.broker._rabbitmq_stats import group_stats
from interlink.broker._rabbitmq_subscription import (
    KEY_HEADER,
    RabbitInbox,
    RabbitSubscription,
    headers_of,
)
from interlink.broker._start import StartFrom, start_point

if TYPE_CHECKING:
    from aio_pika.abc import (
        AbstractChannel,
        AbstractExchange,
        AbstractRobustConnection,
    )

    from interlink.broker._transient import TransientSubscription

__all__ = ["RabbitBroker", "RabbitSettings"]

_INSTALL = 'pip install "interlink[rabbitmq]"'
_REF = "x-il-ref"
_RECONNECT = 0.5
"""Seconds between attempts to reconnect after the connection is lost."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RabbitSettings:
    partitions: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.partitions <= 1024:
            raise ConfigurationError(
                f"partitions must be between 1 and 1024, not {self.partitions}"
            )


class RabbitBroker:
    def __init__(self, url: str, *, settings: RabbitSettings | None = None) -> None:
        self.url = url
        self.settings = settings or RabbitSettings()
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._channels: list[AbstractChannel] = []
        self._direct: RabbitRequests | None = None
        self._delays: DelayQueues | None = None

    async def connect(self) -> None:
        try:
            import aio_pika
        except ImportError:
            raise ConfigurationError(f"the RabbitMQ broker needs aio-pika: {_INSTALL}") from None
        try:
            self._connection = await aio_pika.connect_robust(
                self.url, reconnect_interval=_RECONNECT
            )
        except Exception as exc:
            raise ConfigurationError(f"cannot connect to RabbitMQ at {self.url}: {exc}") from None
        self._channel = await self._connection.channel(publisher_confirms=True)
        self._direct = RabbitRequests(self._connection)
        self._delays = DelayQueues(self._channel)

    async def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._delays = None
        direct, self._direct = self._direct, None
        if direct is not None:
            with contextlib.suppress(Exception):
                await direct.close()
        self._exchanges.clear()
        self._channels.clear()
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError("the RabbitMQ broker is not connected")
        return self._connection

    async def _exchange(self, topic: str) -> AbstractExchange:
        exchange = self._exchanges.get(topic)
        if exchange is None:
            import aio_pika

            if self._channel is None:
                raise RuntimeError("the RabbitMQ broker is not connected")
            exchange = await self._channel.declare_exchange(
                f"il.{topic}",
                aio_pika.ExchangeType.DIRECT,
                durable=True,
                arguments={"x-il-partitions": self._partitions(topic)},
            )
            if topic.endswith(".dlq"):
                queue = await self._channel.declare_queue(f"il.{topic}.retained", durable=True)
                await queue.bind(exchange, "u")
            self._exchanges[topic] = exchange
        return exchange

    def _partitions(self, topic: str) -> int:
        return 0 if topic.endswith(".dlq") else self.settings.partitions

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        import aio_pika

        values: dict[str, Any] = dict(headers) if headers else {}
        route = "u"
        if key is not None:
            values[KEY_HEADER] = key
            if self._partitions(topic):
                route = f"p.{key_partition(key, self._partitions(topic))}"
        if topic.endswith(".dlq"):
            values[_REF] = random.getrandbits(62)
        message = aio_pika.Message(
            body,
            headers=values,
            message_id=message_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        if self._channel is not None and self._channel.is_closed:  # reconnecting
            raise PublishError(f"RabbitMQ is not connected: {topic!r} not published")
        try:
            exchange = await self._exchange(topic)
            await exchange.publish(message, route)
        except (aio_pika.exceptions.AMQPError, ConnectionError, TimeoutError, RuntimeError) as exc:
            # RuntimeError: aiormq's ChannelInvalidStateError, the channel closed under us.
            raise PublishError(
                f"RabbitMQ did not confirm a message for {topic!r}: {exc!r}", maybe_stored=True
            ) from exc

    async def subscribe(
        self,
        topic: str,
        *,
        group: str | None,
        max_in_flight: int,
        start_from: StartFrom = "new",
    ) -> RabbitSubscription:
        if start_point(start_from) != "new":
            raise ConfigurationError(
                f"RabbitMQ keeps no history for {topic!r}: a group can only start from new "
                f'messages (start_from="new"), not {start_from!r}'
            )
        exchange = await self._exchange(topic)
        channel = await self._open_channel()
        subscription = RabbitSubscription(topic, private=group is None)
        partitions = range(self._partitions(topic))
        if group is None:
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            for route in ["u", *(f"p.{n}" for n in partitions)]:
                await queue.bind(exchange, route)
            await subscription.consume(channel, queue, max_in_flight)
            return subscription
        if partitions:
            # A channel of their own: its prefetch of one survives a reconnect.
            keyed = await self._open_channel()
            for n in partitions:
                # Classic: a returned message goes back to its place (a quorum queue of 3.10
                # puts it at the back, behind the key's later messages).
                queue = await keyed.declare_queue(
                    f"il.{topic}.{group}.p{n}",
                    durable=True,
                    arguments={"x-single-active-consumer": True},
                )
                await queue.bind(exchange, f"p.{n}")
                await subscription.consume(keyed, queue, 1)
        queue = await channel.declare_queue(
            f"il.{topic}.{group}", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, "u")
        await subscription.consume(channel, queue, max_in_flight, self._delays)
        return subscription

    async def _open_channel(self) -> AbstractChannel:
        channel = await self.connection.channel(publisher_confirms=False)
        self._channels.append(channel)
        return channel

    async def open_inbox(self) -> RabbitInbox:
        channel = await self._open_channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        inbox = RabbitInbox(queue)
        await inbox.open()
        return inbox

    @property
    def direct(self) -> RabbitRequests:
        if self._direct is None:
            raise RuntimeError("the RabbitMQ broker is not connected")
        return self._direct

    async def serve_requests(self, topic: str, *, max_in_flight: int) -> TransientSubscription:
        return await self.direct.serve(topic, max_in_flight)

    async def request(self, topic: str, body: bytes, *, timeout: float) -> Reply:
        return await self.direct.request(topic, body, timeout)

    async def send_reply(self, address: str, body: bytes, headers: Mapping[str, str]) -> None:
        import aio_pika

        if RabbitRequests.owns(address):
            await self.direct.reply(address, body, headers)
            return

        if self._channel is None:
            raise RuntimeError("the RabbitMQ broker is not connected")
        message = aio_pika.Message(body, headers=dict(headers))
        await self._channel.default_exchange.publish(message, address)

    async def read(
        self,
        topic: str,
        *,
        limit: int,
        since: float | None = None,
        until: float | None = None,
    ) -> list[StoredMessage]:
        """Without a duplicate window a dead letter may be stored twice (its member lost the
        ack of the original after the dead letter was confirmed): each message id is listed
        once, as its oldest copy."""
        if since is not None or until is not None or not topic.endswith(".dlq"):
            raise ConfigurationError(
                f"RabbitMQ keeps no history for {topic!r}: only dead-letter topics (*.dlq) "
                "can be read, and not by time"
            )
        found: list[StoredMessage] = []
        seen: set[str] = set()
        async with self._scan(topic) as messages:
            async for message in messages:
                if message.message_id is not None:
                    if message.message_id in seen:
                        continue
                    seen.add(message.message_id)
                key, headers = headers_of(message)
                ref = int((message.headers or {}).get(_REF, 0) or 0)
                found.append(StoredMessage(topic, message.body, key, headers, ref))
                if len(found) >= limit:
                    break
        return found

    async def remove(self, topic: str, ref: int) -> None:
        """Delete the message ``ref`` and every other copy of its message id."""
        message_id: str | None = None
        async with self._scan(topic) as messages:
            async for message in messages:
                if int((message.headers or {}).get(_REF, 0) or 0) == ref:
                    message_id = message.message_id
                    await message.ack()
                    break
        if message_id is None:
            return
        async with self._scan(topic) as messages:
            async for message in messages:
                if message.message_id == message_id:
                    await message.ack()

    async def subscription_stats(self, topic: str, group: str) -> SubscriptionStats:
        return await group_stats(self.connection, topic, group, self._partitions(topic))

    async def purge(self, topic: str) -> int:
        channel = await self.connection.channel()
        try:
            queue = await channel.declare_queue(f"il.{topic}.retained", durable=True)
            result = await queue.purge()
            return int(result.message_count or 0)
        finally:
            with contextlib.suppress(Exception):
                await channel.close()

    @contextlib.asynccontextmanager
    async def _scan(self, topic: str) -> Any:
        """Retained messages of a dead-letter topic, oldest first, taken unacknowledged on a
        channel of their own: closing it puts back (in place) every one not acked."""
        await self._exchange(topic)
        channel = await self.connection.channel()
        try:
            queue = await channel.declare_queue(f"il.{topic}.retained", durable=True)

            async def messages() -> Any:
                while (message := await queue.get(fail=False)) is not None:
                    yield message

            yield messages()
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
