"""``redis://host:port``: Redis Streams behind the Broker seam (layout in ``_redis_layout``)."""

from __future__ import annotations

import contextlib
import heapq
import os
import socket
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from interlink._errors import ConfigurationError, PublishError
from interlink.broker._base import Reply, StoredMessage, SubscriptionStats
from interlink.broker._nats_streams import key_partition
from interlink.broker._redis_batch import Batcher
from interlink.broker._redis_layout import (
    BODY,
    HEADERS,
    KEY,
    RedisSettings,
    TopicKeys,
    decode_ref,
    encode_ref,
    group_start,
    ms_at,
)
from interlink.broker._redis_pubsub import RedisInbox, WakeUps, encode_reply
from interlink.broker._redis_requests import RedisRequests
from interlink.broker._redis_scripts import ACK, GROUPS, IN_PROGRESS, NACK, PARTS, POLL, PUBLISH
from interlink.broker._redis_stats import group_stats
from interlink.broker._redis_subscription import RedisDelivery, RedisSubscription, Scripts
from interlink.broker._start import StartFrom, start_point

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from interlink.broker._transient import TransientSubscription

__all__ = ["RedisBroker", "RedisDelivery"]

_INSTALL = 'pip install "interlink[redis]"'
_CONNECTIONS = 64
"""Commands of one broker on the wire at once; more wait for a free connection."""


class RedisBroker:
    """Publishes return once Redis added the entry (one script: duplicate check, ``XADD``,
    wake-up); a keyed message goes to its key's partition stream. Groups are Redis consumer
    groups created at ``$`` on first subscribe. What Redis keeps on disk depends on its own
    persistence settings (``appendonly``/``appendfsync``), not on interlink."""

    def __init__(self, url: str, *, settings: RedisSettings | None = None) -> None:
        self.url = url
        self.settings = settings or RedisSettings()
        self._client: Redis | None = None
        self._listening: Redis | None = None
        self._scripts: Scripts | None = None
        self._publishes: Batcher | None = None
        self._wakeups: WakeUps | None = None
        self._direct: RedisRequests | None = None
        self._partitions: dict[str, int] = {}
        self._errors: tuple[type[BaseException], ...] = ()
        self._member = f"{socket.gethostname()}-{os.getpid()}"

    async def connect(self) -> None:
        try:
            import redis.asyncio
            import redis.exceptions
        except ImportError:
            raise ConfigurationError(f"the Redis broker needs redis-py: {_INSTALL}") from None
        # Commands share a bounded pool: a burst of acks and publishes waits for a connection
        # instead of failing. Pub/sub holds its connection for as long as it listens, so it
        # takes its own, outside that pool, and can never leave the commands without one.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            self.url, max_connections=_CONNECTIONS, timeout=None
        )
        client = redis.asyncio.Redis.from_pool(pool)
        try:
            await client.ping()
        except redis.exceptions.RedisError as exc:
            await client.aclose()
            raise ConfigurationError(f"cannot connect to Redis at {self.url}: {exc}") from None
        self._client = client
        self._listening = redis.asyncio.Redis.from_url(self.url, decode_responses=False)
        script = client.register_script
        self._scripts = Scripts(
            *map(script, (PUBLISH, PARTS, GROUPS, POLL, NACK, ACK, IN_PROGRESS))
        )
        self._wakeups = WakeUps(self._listening)
        self._publishes = Batcher(client, self._scripts.publish)
        self._direct = RedisRequests(client, self._listening, self.url)
        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)

    async def close(self) -> None:
        publishes, self._publishes = self._publishes, None
        if publishes is not None:
            await publishes.close()
        client, wakeups, self._client, self._wakeups = self._client, self._wakeups, None, None
        listening, self._listening = self._listening, None
        direct, self._direct = self._direct, None
        if direct is not None:
            await direct.close()
        if wakeups is not None:
            await wakeups.close()
        for each in (client, listening):
            if each is not None:
                with contextlib.suppress(Exception):
                    await each.aclose()

    @property
    def client(self) -> Redis:
        if self._client is None:
            raise RuntimeError("the Redis broker is not connected")
        return self._client

    def _batcher(self) -> Batcher:
        if self._publishes is None:
            raise RuntimeError("the Redis broker is not connected")
        return self._publishes

    @property
    def scripts(self) -> Scripts:
        if self._scripts is None:
            raise RuntimeError("the Redis broker is not connected")
        return self._scripts

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        import redis.exceptions

        names = TopicKeys(topic)
        fields: list[bytes | str] = [BODY, body]
        if headers:
            fields += (HEADERS, msgspec.json.encode(dict(headers)))
        try:
            lane = 0
            if key is not None:
                fields += (KEY, key)
                if not names.dead_letters:
                    lane = 1 + key_partition(key, await self.partitions(topic))
            keys = [names.stream(lane)]
            if message_id is not None:
                keys.append(names.dedupe_prefix + message_id)
            window = int(self.settings.duplicate_window * 1000)
            args = [self.settings.max_len, window, names.channel, *fields]
            await self._batcher().call(keys, args)
        except self._errors as exc:
            raise PublishError(
                f"no answer from Redis for {topic!r}: {exc!r}", maybe_stored=True
            ) from exc
        except redis.exceptions.RedisError as exc:
            raise PublishError(f"Redis refused a message for {topic!r}: {exc}") from exc

    async def partitions(self, topic: str) -> int:
        """The topic's partition count: the first process to touch it records its own."""
        known = self._partitions.get(topic)
        if known is None:
            names = TopicKeys(topic)
            if names.dead_letters:
                return 0
            raw = await self.scripts.parts(keys=[names.parts], args=[self.settings.partitions])
            known = self._partitions[topic] = int(raw)
        return known

    async def subscribe(
        self,
        topic: str,
        *,
        group: str | None,
        max_in_flight: int,
        start_from: StartFrom = "new",
    ) -> RedisSubscription:
        start = group_start(start_point(start_from))
        if self._wakeups is None:
            raise RuntimeError("the Redis broker is not connected")
        names = TopicKeys(topic)
        lanes = list(range(1 + await self.partitions(topic)))
        streams = [names.stream(lane) for lane in lanes]
        name = group if group is not None else f"_tail.{uuid.uuid4().hex}"
        await self.scripts.groups(keys=streams, args=[name, start])
        subscription = RedisSubscription(
            self.scripts,
            self._wakeups,
            names,
            lanes=lanes,
            group=name,
            consumer=f"{self._member}-{uuid.uuid4().hex[:12]}",
            max_in_flight=max_in_flight,
            ack_wait=self.settings.ack_wait,
            private=group is None,
        )
        if group is None:
            subscription.on_close = lambda: self._drop_group(streams, name)
        await subscription.open()
        return subscription

    async def subscription_stats(self, topic: str, group: str) -> SubscriptionStats:
        names = TopicKeys(topic)
        lanes = range(1 + await self.partitions(topic))
        return await group_stats(self.client, [names.stream(n) for n in lanes], group)

    async def _drop_group(self, streams: list[str], group: str) -> None:
        client = self.client
        for stream in streams:
            await client.xgroup_destroy(stream, group)

    async def open_inbox(self) -> RedisInbox:
        if self._listening is None:
            raise RuntimeError("the Redis broker is not connected")
        inbox = RedisInbox(self._listening, f"il:r:{uuid.uuid4().hex}")
        await inbox.open()
        return inbox

    @property
    def direct(self) -> RedisRequests:
        if self._direct is None:
            raise RuntimeError("the Redis broker is not connected")
        return self._direct

    async def serve_requests(self, topic: str, *, max_in_flight: int) -> TransientSubscription:
        return await self.direct.serve(topic, max_in_flight)

    async def request(self, topic: str, body: bytes, *, timeout: float) -> Reply:
        return await self.direct.request(topic, body, timeout)

    async def send_reply(self, address: str, body: bytes, headers: Mapping[str, str]) -> None:
        if RedisRequests.owns(address):
            await self.direct.reply(address, body, headers)
            return
        await self.client.publish(address, encode_reply(body, headers))

    async def read(
        self,
        topic: str,
        *,
        limit: int,
        since: float | None = None,
        until: float | None = None,
    ) -> list[StoredMessage]:
        names = TopicKeys(topic)
        parts = await self.client.get(names.parts)
        lanes = range(1 + (int(parts) if parts and not names.dead_letters else 0))
        low = "-" if since is None else str(ms_at(since))
        high = "+" if until is None else f"({ms_at(until)}-0"
        per_lane = []
        for lane in lanes:
            stream = names.stream(lane)
            entries: Any = await self.client.xrange(stream, min=low, max=high, count=limit)
            per_lane.append([_stored(topic, lane, entry, fields) for entry, fields in entries])
        merged = heapq.merge(*per_lane, key=lambda message: message.ref)
        return [message for _, message in zip(range(limit), merged, strict=False)]

    async def remove(self, topic: str, ref: int) -> None:
        lane, entry = decode_ref(ref)
        await self.client.xdel(TopicKeys(topic).stream(lane), entry)

    async def purge(self, topic: str) -> int:
        names = TopicKeys(topic)
        parts = await self.client.get(names.parts)
        removed = 0
        for lane in range(1 + (int(parts) if parts and not names.dead_letters else 0)):
            removed += int(await self.client.xtrim(names.stream(lane), maxlen=0, approximate=False))
        return removed


_HEADERS = msgspec.json.Decoder(dict[str, str])


def _stored(topic: str, lane: int, entry: bytes, fields: dict[bytes, bytes]) -> StoredMessage:
    key = fields.get(KEY)
    raw = fields.get(HEADERS)
    return StoredMessage(
        topic,
        fields.get(BODY, b""),
        key.decode() if key is not None else None,
        _HEADERS.decode(raw) if raw else {},
        encode_ref(lane, entry),
        published=int(entry.partition(b"-")[0]) / 1000,
    )
