"""``nats://host:port`` and ``embedded``: NATS JetStream behind the Broker seam."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

from interlink._errors import ConfigurationError, PublishError
from interlink.broker._base import Reply, StoredMessage, SubscriptionStats
from interlink.broker._nats_cluster import replicas_for, server_list
from interlink.broker._nats_delivery import KEY_HEADER, NatsInbox
from interlink.broker._nats_publish import PubAcks, PublishStalls
from interlink.broker._nats_read import read_stream
from interlink.broker._nats_requests import nats_request, serve_nats_requests
from interlink.broker._nats_stats import group_stats
from interlink.broker._nats_streams import (
    StreamSettings,
    consumer_name,
    key_partition,
    partition_subject,
    stream_name,
)
from interlink.broker._nats_subscription import NatsSubscription
from interlink.broker._nats_topology import ensure_group, ensure_stream, open_listener
from interlink.broker._start import StartFrom, start_point

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.api import StreamInfo

    from interlink.broker._transient import TransientSubscription
    from interlink.embedded import EmbeddedNats, EmbeddedNatsCluster

__all__ = ["NatsBroker"]

_INSTALL = 'pip install "interlink[nats]"'
_CLUSTER_ATTEMPT = 1.0
"""On a cluster, how long one send waits for its acknowledgement before it is resent."""


class NatsBroker:
    """Publishes are acknowledged by JetStream (stored on disk) before ``publish`` returns;
    a keyed message goes to its key's partition. ``url`` may list a cluster's servers
    (``nats://h1:4222,h2:4222``); on a cluster a publish is resent through a leader election
    (see ``PubAcks``) and streams get ``settings.replicas`` copies, chosen at ``connect``.
    Groups are durable pull consumers (one for unkeyed messages, one per partition) created on
    first subscribe; see ``_nats_streams``."""

    def __init__(
        self,
        url: str,
        *,
        settings: StreamSettings | None = None,
        embedded: EmbeddedNats | EmbeddedNatsCluster | None = None,
        request_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.settings = settings or StreamSettings()
        self._embedded = embedded
        self._timeout = request_timeout
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._acks: PubAcks | None = None
        self._partitions: dict[str, int] = {}
        """topic -> its stream's partition count, once the stream is known to exist"""
        self._errors: tuple[type[BaseException], ...] = ()
        self.publish_stalls = PublishStalls()
        """Publishes held up by a cluster's leader election, kept across reconnects."""

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
                servers=server_list(server),
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
        replicas = replicas_for(self._nc, self.settings.replicas)
        self.settings = dataclasses.replace(self.settings, replicas=replicas)
        clustered = replicas > 1 or len(self._nc.servers) > 1
        self._acks = PubAcks(
            self._nc,
            min(self._timeout, _CLUSTER_ATTEMPT) if clustered else self._timeout,
            resend_for=self.settings.publish_timeout if clustered else None,
            stalls=self.publish_stalls,
        )
        await self._acks.open()
        self._errors = (nats.errors.Error, TimeoutError)

    async def close(self) -> None:
        nc, acks, self._nc, self._js, self._acks = self._nc, self._acks, None, None, None
        if acks is not None:
            acks.close()
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
        if self._acks is None:
            raise RuntimeError("the NATS broker is not connected")
        if message_id is not None:
            hdrs["Nats-Msg-Id"] = message_id
        elif self._acks.resends:  # a resent copy must carry the id the first one had
            hdrs["Nats-Msg-Id"] = uuid.uuid4().hex
        partitions = self._partitions.get(topic)
        if partitions is None:
            try:
                partitions = await self._ensure_stream(topic)
            except self._errors as exc:
                raise PublishError(f"cannot set up a stream for {topic!r}: {exc!r}") from exc
        subject = topic if key is None else partition_subject(topic, key_partition(key, partitions))
        await self._acks.publish(subject, body, hdrs or None)

    async def subscribe(
        self,
        topic: str,
        *,
        group: str | None,
        max_in_flight: int,
        start_from: StartFrom = "new",
    ) -> NatsSubscription:
        start = start_point(start_from)
        partitions = await self._ensure_stream(topic)
        js, settings = self.jetstream, self.settings
        if group is None:
            lanes = [await open_listener(js, topic, settings)]
        else:
            base = consumer_name(group)
            lanes = await ensure_group(js, topic, base, partitions, settings, start)
        subscription = NatsSubscription(
            topic,
            self.connection,
            stream=stream_name(topic),
            lanes=lanes,
            max_in_flight=max_in_flight,
            ack_wait=settings.ack_wait,
            settle_timeout=self._timeout,
        )
        await subscription.open()
        return subscription

    async def open_inbox(self) -> NatsInbox:
        address = self.connection.new_inbox()
        sub = await self.connection.subscribe(address, pending_msgs_limit=10_000)
        return NatsInbox(address, sub)

    async def send_reply(self, address: str, body: bytes, headers: Mapping[str, str]) -> None:
        await self.connection.publish(address, body, headers=dict(headers) if headers else None)

    async def serve_requests(self, topic: str, *, max_in_flight: int) -> TransientSubscription:
        return await serve_nats_requests(self.connection, topic)

    async def request(self, topic: str, body: bytes, *, timeout: float) -> Reply:
        return await nats_request(self.connection, topic, body, timeout)

    async def read(
        self,
        topic: str,
        *,
        limit: int,
        since: float | None = None,
        until: float | None = None,
    ) -> list[StoredMessage]:
        return await read_stream(
            self.jetstream, topic, limit=limit, since=since, until=until, info=self._stream_info
        )

    async def remove(self, topic: str, ref: int) -> None:
        import nats.js.errors

        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self.jetstream.delete_msg(stream_name(topic), ref)

    async def purge(self, topic: str) -> int:
        import nats.js.errors

        name = stream_name(topic)
        try:
            info = await self._stream_info(name)
        except nats.js.errors.NotFoundError:
            return 0
        await self.jetstream.purge_stream(name)
        return int(info.state.messages)

    async def subscription_stats(self, topic: str, group: str) -> SubscriptionStats:
        return await group_stats(self.jetstream, topic, group)

    async def _stream_info(self, name: str) -> StreamInfo:
        """On a cluster, a stream electing its leader (just created, or its leader died) leaves
        info requests unanswered: ask again, for up to ``publish_timeout``."""
        import nats.errors

        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.settings.publish_timeout
        while True:
            try:
                return await self.jetstream.stream_info(name)
            except nats.errors.TimeoutError:
                if self._acks is None or not self._acks.resends or loop.time() >= give_up:
                    raise

    async def _ensure_stream(self, topic: str) -> int:
        partitions = await ensure_stream(self.jetstream, topic, self.settings)
        self._partitions[topic] = partitions
        return partitions
