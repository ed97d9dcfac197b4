"""``kafka://host:port``: Kafka behind the Broker seam (aiokafka).

A topic is a Kafka topic of ``partitions`` partitions, created on first use (a dead-letter
topic ``*.dlq``, a reply topic: one partition); a keyed message goes to its key's partition
(Kafka's own partitioner), an unkeyed one to any. A group is the Kafka consumer group
``il.<topic>.<group>``: created on first subscribe with its offsets committed at the end of
every partition, so it sees what is published after, and keeps it while it has no member.
Offsets are committed (see ``_kafka_subscription``) only up to the lowest message of a
partition not yet acked or terminated. A ``nack(delay)`` holds the message in its member for
the delay while the partition's other keys go on. ``read``/``remove``/``purge`` of a
dead-letter topic read it from its start; ``remove`` and ``purge`` write what was removed to a
side topic ``il-removed.<topic>`` (Kafka deletes no single record), which ``read`` skips.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from interlink._errors import ConfigurationError, PublishError
from interlink.broker._base import StoredMessage, SubscriptionStats
from interlink.broker._kafka_lanes import Lane, decode_attempts, listener_for
from interlink.broker._kafka_records import (
    PURGED,
    KafkaInbox,
    encode_headers,
    read_all,
    retained,
)
from interlink.broker._kafka_subscription import KafkaSubscription
from interlink.broker._start import StartFrom, start_point

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
    from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

__all__ = ["KafkaBroker", "KafkaSettings"]

_INSTALL = 'pip install "interlink[kafka]"'


@dataclass(frozen=True, kw_only=True, slots=True)
class KafkaSettings:
    partitions: int = 8
    session_timeout: float = 10.0
    """Seconds without a heartbeat after which the group takes a member's partitions back."""

    def __post_init__(self) -> None:
        if not 1 <= self.partitions <= 1024:
            raise ConfigurationError(
                f"partitions must be between 1 and 1024, not {self.partitions}"
            )
        if not 0.5 <= self.session_timeout <= 300:
            raise ConfigurationError(
                f"session_timeout must be between 0.5 and 300 s, not {self.session_timeout}"
            )


class KafkaBroker:
    def __init__(self, url: str, *, settings: KafkaSettings | None = None) -> None:
        self.url = url
        self.settings = settings or KafkaSettings()
        self._servers = url.partition("://")[2].rstrip("/") or "127.0.0.1:9092"
        self._producer: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._topics: set[str] = set()

    async def connect(self) -> None:
        try:
            from aiokafka import AIOKafkaProducer
            from aiokafka.admin import AIOKafkaAdminClient
        except ImportError:
            raise ConfigurationError(f"the Kafka broker needs aiokafka: {_INSTALL}") from None
        producer = AIOKafkaProducer(bootstrap_servers=self._servers, acks="all")
        admin = AIOKafkaAdminClient(bootstrap_servers=self._servers)
        try:
            await producer.start()
            await admin.start()
        except Exception as exc:
            with contextlib.suppress(Exception):
                await producer.stop()
            with contextlib.suppress(Exception):
                await admin.close()
            raise ConfigurationError(f"cannot connect to Kafka at {self.url}: {exc}") from None
        self._producer, self._admin = producer, admin

    async def close(self) -> None:
        producer, admin, self._producer, self._admin = self._producer, self._admin, None, None
        self._topics.clear()
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("the Kafka broker is not connected")
        return self._producer

    @property
    def admin(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            raise RuntimeError("the Kafka broker is not connected")
        return self._admin

    def _partitions(self, topic: str) -> int:
        return 1 if topic.endswith(".dlq") else self.settings.partitions

    async def _ensure(self, topic: str, partitions: int | None = None) -> None:
        if topic in self._topics:
            return
        from aiokafka.admin import NewTopic

        count = partitions or self._partitions(topic)
        with contextlib.suppress(Exception):  # it exists already
            await self.admin.create_topics([NewTopic(topic, count, 1)])
        self._topics.add(topic)

    def _consumer(self, group: str | None = None, **options: Any) -> AIOKafkaConsumer:
        from aiokafka import AIOKafkaConsumer

        return AIOKafkaConsumer(
            bootstrap_servers=self._servers,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **options,
        )

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

        await self._ensure(topic)
        try:
            await self.producer.send_and_wait(
                topic,
                body,
                key=None if key is None else key.encode(),
                headers=encode_headers(headers, message_id),
            )
        except (KafkaError, ConnectionError, TimeoutError) as exc:
            raise PublishError(
                f"Kafka did not acknowledge a message for {topic!r}: {exc!r}", maybe_stored=True
            ) from exc

    async def _tps(self, topic: str) -> list[TopicPartition]:
        from aiokafka import TopicPartition

        partitions = await self.producer.partitions_for(topic)
        return [TopicPartition(topic, p) for p in sorted(partitions)]

    async def subscribe(
        self,
        topic: str,
        *,
        group: str | None,
        max_in_flight: int,
        start_from: StartFrom = "new",
    ) -> KafkaSubscription:
        start = start_point(start_from)
        await self._ensure(topic)
        if group is None:
            consumer = self._consumer()
            await consumer.start()
            tps = await self._tps(topic)
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)
            subscription = KafkaSubscription(
                topic, consumer, max_in_flight=max_in_flight, group=False
            )
            for tp in tps:
                subscription.add_lane(Lane(tp, {}))
            subscription.start()
            return subscription
        group_id = f"il.{topic}.{group}"
        await self._create_group(topic, group_id, start)
        session = int(self.settings.session_timeout * 1000)
        rebalance = max(session, 10_000)
        consumer = self._consumer(
            group_id,
            session_timeout_ms=session,
            heartbeat_interval_ms=max(100, session // 3),
            rebalance_timeout_ms=rebalance,
        )
        subscription = KafkaSubscription(
            topic, consumer, max_in_flight=max_in_flight, group=True, handover=rebalance / 1000
        )
        await consumer.start()
        consumer.subscribe([topic], listener=listener_for(subscription, self._attempts(group_id)))
        subscription.start()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.session_timeout + 10):
                await subscription.assigned.wait()
        return subscription

    async def _create_group(
        self, topic: str, group_id: str, start: Literal["new", "earliest"] | float
    ) -> None:
        """Commit where the group starts on every partition it has no offset for yet: the
        end (``"new"``), the beginning (``"earliest"``), or the first record stored at or
        after a time (the end where there is none)."""
        from aiokafka.structs import OffsetAndMetadata  # type: ignore[import-untyped]

        consumer = self._consumer(group_id)
        await consumer.start()
        try:
            tps = await self._tps(topic)
            known = await self.admin.list_consumer_group_offsets(group_id, partitions=tps)
            missing = [tp for tp in tps if tp not in known or known[tp].offset < 0]
            if not missing:
                return
            consumer.assign(missing)
            if start == "earliest":
                await consumer.seek_to_beginning(*missing)
            else:
                await consumer.seek_to_end(*missing)
            offsets = {tp: OffsetAndMetadata(await consumer.position(tp), "") for tp in missing}
            if not isinstance(start, str):
                found = await consumer.offsets_for_times({tp: int(start * 1000) for tp in missing})
                for tp, at in found.items():
                    if at is not None:
                        offsets[tp] = OffsetAndMetadata(at.offset, "")
            with contextlib.suppress(Exception):  # a member committed first
                await consumer.commit(offsets)
        finally:
            await consumer.stop()

    async def lag(self, topic: str, group: str) -> int:
        """Messages of ``topic`` past ``group``'s committed offsets: not yet acked or
        terminated (or not yet delivered)."""
        group_id = f"il.{topic}.{group}"
        consumer = self._consumer()
        await consumer.start()
        try:
            tps = await self._tps(topic)
            ends = await consumer.end_offsets(tps)
        finally:
            await consumer.stop()
        known = await self.admin.list_consumer_group_offsets(group_id, partitions=tps)
        return sum(end - max(0, known[tp].offset if tp in known else 0) for tp, end in ends.items())

    async def subscription_stats(self, topic: str, group: str) -> SubscriptionStats:
        """Kafka counts only offsets: pending is the lag, handed-out messages included."""
        return SubscriptionStats(pending=await self.lag(topic, group), unacknowledged=None)

    def _attempts(self, group_id: str) -> Any:
        async def fetch(tps: list[TopicPartition]) -> dict[TopicPartition, dict[int, int]]:
            try:
                known = await self.admin.list_consumer_group_offsets(group_id, partitions=tps)
            except Exception:  # counts are a courtesy: start them again at 1
                return {}
            return {tp: decode_attempts(meta.metadata or "") for tp, meta in known.items()}

        return fetch

    async def open_inbox(self) -> KafkaInbox:
        address = f"il-reply.{uuid.uuid4().hex}"
        await self._ensure(address, 1)
        consumer = self._consumer()
        await consumer.start()

        async def drop() -> None:
            self._topics.discard(address)
            await self.admin.delete_topics([address])

        inbox = KafkaInbox(address, consumer, drop)
        await inbox.open()
        return inbox

    async def send_reply(self, address: str, body: bytes, headers: Mapping[str, str]) -> None:
        sent = await self.producer.send(address, body, headers=encode_headers(headers))
        sent.add_done_callback(lambda f: None if f.cancelled() else f.exception())

    async def _retained(self, topic: str) -> tuple[list[StoredMessage], int]:
        """The messages of ``topic`` not removed, and its end offset."""
        await self._ensure(topic)
        await self._ensure(f"il-removed.{topic}", 1)
        consumer = self._consumer()
        await consumer.start()
        try:
            removals = await read_all(consumer, await self._tps(f"il-removed.{topic}"))
            records = await read_all(consumer, await self._tps(topic))
        finally:
            await consumer.stop()
        return retained(topic, records, removals)

    async def read(
        self,
        topic: str,
        *,
        limit: int,
        since: float | None = None,
        until: float | None = None,
    ) -> list[StoredMessage]:
        """Retained records, oldest first (by record time across partitions); ``since`` and
        ``until`` bound their time (the producer's clock, Kafka's CreateTime)."""
        stored = (await self._retained(topic))[0]
        if since is not None or until is not None:
            low, high = since or float("-inf"), until or float("inf")
            stored = [m for m in stored if low <= m.published < high]
        stored.sort(key=lambda m: m.published)
        return stored[:limit]

    async def remove(self, topic: str, ref: int) -> None:
        await self._ensure(f"il-removed.{topic}", 1)
        await self.producer.send_and_wait(f"il-removed.{topic}", str(ref).encode())

    async def purge(self, topic: str) -> int:
        stored, end = await self._retained(topic)
        if stored:
            await self.producer.send_and_wait(f"il-removed.{topic}", f"{PURGED}{end}".encode())
        return len(stored)
