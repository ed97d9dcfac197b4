"""A member of a Kafka consumer group read as one Subscription.

Each assigned partition is a lane: records fetched and not yet handed out wait in it, in
offset order. A keyed record is handed out only once its key has nothing out (handed, or held
back by a delayed nack); a returned record goes to the front of its lane. The lane's commit
watermark is its lowest offset not yet done, so Kafka's committed offset never passes a
message whose handler has not finished. The offsets handed out and their attempt counts travel
in the commit's metadata, so the partition's next owner counts on from them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from interlink.broker._kafka_records import headers_of

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition  # type: ignore[import-untyped]

__all__ = ["KafkaDelivery", "KafkaSubscription", "Lane", "decode_attempts"]

_METADATA = 3000
"""Bytes of commit metadata at most (Kafka's default limit is 4096)."""


def decode_attempts(metadata: str) -> dict[int, int]:
    attempts: dict[int, int] = {}
    for item in metadata.split(","):
        offset, _, count = item.partition(":")
        if offset.isdigit() and count.isdigit():
            attempts[int(offset)] = int(count)
    return attempts


class Lane:
    """One assigned partition of one member."""

    def __init__(self, tp: TopicPartition, attempts: dict[int, int]) -> None:
        self.tp = tp
        self.waiting: deque[ConsumerRecord[bytes, bytes]] = deque()
        self.outstanding: set[int] = set()
        self.busy: set[str] = set()
        self.attempts = attempts
        self.next: int | None = None
        self.live = True
        self.committed: tuple[int, str] | None = None

    def take(self) -> ConsumerRecord[bytes, bytes] | None:
        for index, record in enumerate(self.waiting):
            key = _key(record)
            if key is None or key not in self.busy:
                del self.waiting[index]
                if key is not None:
                    self.busy.add(key)
                return record
        return None

    def watermark(self) -> tuple[int, str] | None:
        offset = min(self.outstanding) if self.outstanding else self.next
        if offset is None:
            return None
        handed = sorted((o, a) for o, a in self.attempts.items() if o >= offset)
        metadata = ",".join(f"{o}:{a}" for o, a in handed)[:_METADATA]
        return offset, metadata.rpartition(",")[0] if len(metadata) == _METADATA else metadata


def _key(record: ConsumerRecord[bytes, bytes]) -> str | None:
    return None if record.key is None else record.key.decode()


class KafkaDelivery:
    __slots__ = ("_done", "_lane", "_record", "_sub", "attempt", "body", "headers", "key", "topic")

    def __init__(
        self, sub: KafkaSubscription, lane: Lane, record: ConsumerRecord[bytes, bytes]
    ) -> None:
        self._sub = sub
        self._lane = lane
        self._record = record
        self.topic = sub.topic
        self.body = record.value or b""
        self.key = _key(record)
        self.headers: Mapping[str, str] = headers_of(record.headers)
        self.attempt = lane.attempts.get(record.offset, 0) + 1
        lane.attempts[record.offset] = self.attempt
        self._done = False

    async def ack(self) -> None:
        if not self._done:
            self._done = True
            self._sub.finish(self._lane, self._record)

    async def term(self) -> None:
        await self.ack()

    async def nack(self, delay: float = 0.0) -> None:
        if not self._done:
            self._done = True
            self._sub.give_back(self._lane, self._record, delay)

    async def in_progress(self) -> None:
        """Kafka takes a partition back only when its member leaves the group."""


class KafkaSubscription:
    def __init__(
        self, topic: str, consumer: AIOKafkaConsumer, *, max_in_flight: int, group: bool
    ) -> None:
        self.topic = topic
        self._consumer = consumer
        self._max = max_in_flight
        self._group = group
        self._lanes: dict[TopicPartition, Lane] = {}
        self._ready: asyncio.Queue[KafkaDelivery | None] = asyncio.Queue()
        self._in_flight = 0
        self._held: dict[tuple[TopicPartition, int], asyncio.TimerHandle] = {}
        self._dirty = asyncio.Event()
        self._closed = False
        self._tasks: list[asyncio.Task[None]] = []
        self.assigned = asyncio.Event()

    @property
    def heartbeat(self) -> None:
        return None

    @property
    def lane_capacity(self) -> int:
        return max(self._max, 32)

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._pump(), name=f"kafka fetch {self.topic}"))
        if self._group:
            self._tasks.append(
                asyncio.create_task(self._commits(), name=f"kafka commit {self.topic}")
            )

    def add_lane(self, lane: Lane) -> None:
        self._lanes[lane.tp] = lane

    async def revoke(self, tps: list[TopicPartition]) -> None:
        """Give up partitions (a rebalance): commit what is done, drop what waits."""
        lanes = [self._lanes.pop(tp) for tp in tps if tp in self._lanes]
        for lane in lanes:
            lane.live = False
            for (tp, offset), handle in list(self._held.items()):
                if tp == lane.tp:
                    handle.cancel()
                    del self._held[(tp, offset)]
        await self._commit(lanes)

    async def _commit(self, lanes: list[Lane]) -> None:
        from aiokafka.structs import OffsetAndMetadata  # type: ignore[import-untyped]

        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for lane in lanes:
            mark = lane.watermark()
            if mark is not None and mark != lane.committed:
                offsets[lane.tp] = OffsetAndMetadata(*mark)
                lane.committed = mark
        if offsets:
            with contextlib.suppress(Exception):  # a rebalance: the next owner reads it again
                await self._consumer.commit(offsets)

    async def _commits(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self._commit(list(self._lanes.values()))

    async def _pump(self) -> None:
        while not self._closed:
            full = [
                tp for tp, lane in self._lanes.items() if len(lane.waiting) >= self.lane_capacity
            ]
            paused = self._consumer.paused()
            if full:
                self._consumer.pause(*full)
            resume = [tp for tp in paused if tp not in full]
            if resume:
                self._consumer.resume(*resume)
            batches = await self._consumer.getmany(timeout_ms=100, max_records=self.lane_capacity)
            for tp, records in batches.items():
                lane = self._lanes.get(tp)
                if lane is None:
                    continue
                for record in records:
                    lane.waiting.append(record)
                    lane.outstanding.add(record.offset)
                    lane.next = record.offset + 1
            self._dispatch()

    def _dispatch(self) -> None:
        progress = True
        while progress and self._in_flight < self._max and not self._closed:
            progress = False
            for lane in list(self._lanes.values()):
                if self._in_flight >= self._max:
                    break
                record = lane.take()
                if record is not None:
                    progress = True
                    self._in_flight += 1
                    self._ready.put_nowait(KafkaDelivery(self, lane, record))
                    self._dirty.set()

    def finish(self, lane: Lane, record: ConsumerRecord[bytes, bytes]) -> None:
        self._in_flight -= 1
        key = _key(record)
        if key is not None:
            lane.busy.discard(key)
        lane.outstanding.discard(record.offset)
        lane.attempts.pop(record.offset, None)
        self._dirty.set()
        self._dispatch()

    def give_back(self, lane: Lane, record: ConsumerRecord[bytes, bytes], delay: float) -> None:
        """Settled for ``max_in_flight``; the record stays outstanding (the watermark waits)
        and its key busy until it goes back to the front of its lane after ``delay``."""
        self._in_flight -= 1

        def back() -> None:
            self._held.pop((lane.tp, record.offset), None)
            key = _key(record)
            if key is not None:
                lane.busy.discard(key)
            lane.waiting.appendleft(record)
            self._dispatch()

        if delay > 0 and lane.live and not self._closed:
            handle = asyncio.get_running_loop().call_later(delay, back)
            self._held[(lane.tp, record.offset)] = handle
        elif lane.live:
            back()
        self._dispatch()

    def __aiter__(self) -> KafkaSubscription:
        return self

    async def __anext__(self) -> KafkaDelivery:
        while True:
            if self._closed and self._ready.empty():
                raise StopAsyncIteration
            delivery = await self._ready.get()
            if delivery is None:
                raise StopAsyncIteration
            if delivery._lane.live:
                return delivery
            self._in_flight -= 1  # its partition moved to another member meanwhile

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for handle in self._held.values():
            handle.cancel()
        self._held.clear()
        if self._group:
            await self._commit(list(self._lanes.values()))
        for lane in self._lanes.values():
            lane.live = False
        self._ready.put_nowait(None)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await self._consumer.stop()


def listener_for(sub: KafkaSubscription, fetch_attempts: Any) -> Any:
    """A rebalance listener: lanes for assigned partitions, commits for revoked ones."""
    from aiokafka import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: Any) -> None:
            await sub.revoke(list(revoked))

        async def on_partitions_assigned(self, assigned: Any) -> None:
            attempts: dict[Any, dict[int, int]] = await fetch_attempts(list(assigned))
            for tp in assigned:
                sub.add_lane(Lane(tp, attempts.get(tp, {})))
            sub.assigned.set()

    return Listener()
