"""``nats://host:port`` and ``embedded``: NATS JetStream behind the Broker seam."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from interlink._errors import ConfigurationError, PublishError
from interlink.broker._base import StoredMessage
from interlink.broker._nats_publish import PubAcks
from interlink.broker._nats_streams import StreamSettings, consumer_name, stream_config, stream_name
from interlink.broker._nats_subscription import KEY_HEADER, NatsInbox, NatsSubscription

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.api import ConsumerConfig

    from interlink.embedded import EmbeddedNats

__all__ = ["NatsBroker"]

_INSTALL = 'pip install "interlink[nats]"'


class NatsBroker:
    """Publishes are acknowledged by JetStream (stored on disk) before ``publish`` returns;
    groups are durable pull consumers created on first subscribe."""

    def __init__(
        self,
        url: str,
        *,
        settings: StreamSettings | None = None,
        embedded: EmbeddedNats | None = None,
        request_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.settings = settings or StreamSettings()
        self._embedded = embedded
        self._timeout = request_timeout
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._acks: PubAcks | None = None
        self._topics: set[str] = set()
        self._errors: tuple[type[BaseException], ...] = ()

    async def connect(self) -> None:
        try:
            import nats
            import nats.errors
        except ImportError:
            raise ConfigurationError(f"the NATS broker needs nats-py: {_INSTALL}") from None
        server = self.url
        if self._embedded is not None:
            server = await self._embedded.start()
        try:
            self._nc = await nats.connect(
                servers=[server],
                name="interlink",
                connect_timeout=self._timeout,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.2,
                allow_reconnect=True,
            )
        except Exception as exc:
            if self._embedded is not None:
                await self._embedded.stop()
            raise ConfigurationError(f"cannot connect to NATS at {server}: {exc}") from None
        self._js = self._nc.jetstream(timeout=self._timeout)
        self._acks = PubAcks(self._nc, self._timeout)
        await self._acks.open()
        self._errors = (nats.errors.Error, TimeoutError)

    async def close(self) -> None:
        nc, self._nc, self._js, self._acks = self._nc, None, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()
        if self._embedded is not None:
            await self._embedded.stop()

    @property
    def connection(self) -> Client:
        if self._nc is None:
            raise RuntimeError("the NATS broker is not connected")
        return self._nc

    @property
    def jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("the NATS broker is not connected")
        return self._js

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        hdrs: dict[str, str] = dict(headers) if headers else {}
        if key is not None:
            hdrs[KEY_HEADER] = key
        if message_id is not None:
            hdrs["Nats-Msg-Id"] = message_id
        if self._acks is None:
            raise RuntimeError("the NATS broker is not connected")
        if topic not in self._topics:
            try:
                await self._ensure_stream(topic)
            except self._errors as exc:
                raise PublishError(f"cannot set up a stream for {topic!r}: {exc!r}") from exc
        await self._acks.publish(topic, body, hdrs or None)

    async def subscribe(
        self, topic: str, *, group: str | None, max_in_flight: int
    ) -> NatsSubscription:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        await self._ensure_stream(topic)
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.settings.ack_wait,
            max_deliver=-1,  # the runtime dead-letters; JetStream must never drop silently
            max_ack_pending=self.settings.max_ack_pending,
            inactive_threshold=None if group is not None else 30.0,
        )
        stream = stream_name(topic)
        name = await self._consumer(stream, topic, group, config)
        subscription = NatsSubscription(
            topic,
            self.connection,
            stream=stream,
            consumer=name,
            batch=min(max_in_flight, 256),
            ack_wait=self.settings.ack_wait,
        )
        await subscription.open()
        return subscription

    async def _consumer(
        self, stream: str, topic: str, group: str | None, config: ConsumerConfig
    ) -> str:
        """The group's durable consumer (created unless it exists), or a fresh ephemeral one."""
        import nats.js.errors

        config.filter_subject = topic
        if group is None:
            config.name = uuid.uuid4().hex
        else:
            config.name = config.durable_name = consumer_name(group)
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self.jetstream.consumer_info(stream, config.name)
                return config.name
        await self.jetstream.add_consumer(stream, config=config)
        return config.name

    async def open_inbox(self) -> NatsInbox:
        address = self.connection.new_inbox()
        sub = await self.connection.subscribe(address, pending_msgs_limit=10_000)
        return NatsInbox(address, sub)

    async def send_reply(self, address: str, body: bytes, headers: Mapping[str, str]) -> None:
        await self.connection.publish(address, body, headers=dict(headers))

    async def read(self, topic: str, *, limit: int) -> list[StoredMessage]:
        import nats.js.errors

        name = stream_name(topic)
        try:
            info = await self.jetstream.stream_info(name)
        except nats.js.errors.NotFoundError:
            return []
        found: list[StoredMessage] = []
        seq = info.state.first_seq
        while seq and seq <= info.state.last_seq and len(found) < limit:
            try:
                raw = await self.jetstream.get_msg(name, seq)
            except nats.js.errors.NotFoundError:
                seq += 1
                continue
            headers = dict(raw.headers or {})
            key = headers.pop(KEY_HEADER, None)
            headers.pop("Nats-Msg-Id", None)
            found.append(StoredMessage(topic, raw.data or b"", key, headers, seq))
            seq += 1
        return found

    async def remove(self, topic: str, ref: int) -> None:
        import nats.js.errors

        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self.jetstream.delete_msg(stream_name(topic), ref)

    async def purge(self, topic: str) -> int:
        import nats.js.errors

        name = stream_name(topic)
        try:
            info = await self.jetstream.stream_info(name)
        except nats.js.errors.NotFoundError:
            return 0
        await self.jetstream.purge_stream(name)
        return int(info.state.messages)

    async def _ensure_stream(self, topic: str) -> None:
        import nats.js.errors

        name = stream_name(topic)

        config: dict[str, Any] = stream_config(topic, self.settings)
        try:
            await self.jetstream.add_stream(**config)
        except nats.js.errors.BadRequestError:
            # Created earlier (perhaps by another process, perhaps with other limits): use it.
            await self.jetstream.stream_info(name)
        self._topics.add(topic)
