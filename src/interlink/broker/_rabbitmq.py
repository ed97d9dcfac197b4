"""``amqp://user:pass@host:port/vhost``: RabbitMQ behind the Broker seam (aio-pika).

A topic is a durable direct exchange ``il.<topic>`` (its partition count in its arguments, so
a process with another count is refused). An unkeyed message is routed with ``u``, a keyed one
with ``p.<n>``, ``n`` the CRC-32 of the key modulo ``partitions``. A group is a durable quorum
queue ``il.<topic>.<group>`` bound to ``u``, plus one quorum queue per partition with single
active consumer (classic, so a returned message keeps its place): a partition is consumed by one member at a time, with a prefetch of one, so a
key's next message is delivered only once the previous one is settled, and a message returned
(nacked, or its member's channel closed) is delivered again before later ones. A dead-letter
topic (``*.dlq``) also keeps a queue ``il.<topic>.retained`` that ``read``, ``remove`` and
``purge`` work on. Publishes wait for the publisher confirm (concurrent publishes pipeline).

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
from interlink.broker._base import Reply, StoredMessage
from interlink.broker._nats_streams import key_partition
from interlink.broker._rabbitmq_requests import RabbitRequests
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

    async def connect(self) -> None:
        try:
            import aio_pika
        except ImportError:
            raise ConfigurationError(f"the RabbitMQ broker needs aio-pika: {_INSTALL}") from None
        try:
            self._connection = await aio_pika.connect_robust(self.url)
        except Exception as exc:
            raise ConfigurationError(f"cannot connect to RabbitMQ at {self.url}: {exc}") from None
        self._channel = await self._connection.channel(publisher_confirms=True)
        self._direct = RabbitRequests(self._connection)

    async def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
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
        try:
            exchange = await self._exchange(topic)
            await exchange.publish(message, route)
        except (aio_pika.exceptions.AMQPError, ConnectionError, TimeoutError) as exc:
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
        channel = await self.connection.channel(publisher_confirms=False)
        self._channels.append(channel)
        subscription = RabbitSubscription(topic, channel, private=group is None)
        partitions = range(self._partitions(topic))
        if group is None:
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            for route in ["u", *(f"p.{n}" for n in partitions)]:
                await queue.bind(exchange, route)
            await subscription.consume(queue, max_in_flight)
            return subscription
        quorum = {"x-queue-type": "quorum"}
        for n in partitions:
            # Classic: a returned message goes back to its place (a quorum queue of 3.10 puts
            # it at the back, behind the key's later messages).
            queue = await channel.declare_queue(
                f"il.{topic}.{group}.p{n}",
                durable=True,
                arguments={"x-single-active-consumer": True},
            )
            await queue.bind(exchange, f"p.{n}")
            await subscription.consume(queue, 1)
        queue = await channel.declare_queue(f"il.{topic}.{group}", durable=True, arguments=quorum)
        await queue.bind(exchange, "u")
        await subscription.consume(queue, max_in_flight)
        return subscription

    async def open_inbox(self) -> RabbitInbox:
        channel = await self.connection.channel(publisher_confirms=False)
        self._channels.append(channel)
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
        if since is not None or until is not None or not topic.endswith(".dlq"):
            raise ConfigurationError(
                f"RabbitMQ keeps no history for {topic!r}: only dead-letter topics (*.dlq) "
                "can be read, and not by time"
            )
        found: list[StoredMessage] = []
        async with self._scan(topic) as messages:
            async for message in messages:
                key, headers = headers_of(message)
                ref = int((message.headers or {}).get(_REF, 0) or 0)
                found.append(StoredMessage(topic, message.body, key, headers, ref))
                if len(found) >= limit:
                    break
        return found

    async def remove(self, topic: str, ref: int) -> None:
        async with self._scan(topic) as messages:
            async for message in messages:
                if int((message.headers or {}).get(_REF, 0) or 0) == ref:
                    await message.ack()
                    return

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
