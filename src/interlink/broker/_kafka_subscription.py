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
import logging
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

from interlink.broker._kafka_lanes import Lane, key_of
from interlink.broker._kafka_records import headers_of

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition  # type: ignore[import-untyped]

__all__ = ["KafkaDelivery", "KafkaSubscription"]

log = logging.getLogger("interlink.broker.kafka")


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
        self.key = key_of(record)
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
        self,
        topic: str,
        consumer: AIOKafkaConsumer,
        *,
        max_in_flight: int,
        group: bool,
        handover: float = 0.0,
    ) -> None:
        self.topic = topic
        self._consumer = consumer
        self._max = max_in_flight
        self._group = group
        self._lanes: dict[TopicPartition, Lane] = {}
        self._ready: asyncio.Queue[KafkaDelivery | None] = asyncio.Queue()
        self._in_flight = 0
        self._held: dict[tuple[TopicPartition, int], asyncio.TimerHandle] = {}
        self._parked: dict[TopicPartition, Lane] = {}
        self._dirty = asyncio.Event()
        self._settled = asyncio.Event()
        self._handover = handover
        self._closed = False
        self._tasks: list[asyncio.Task[None]] = []
        self.assigned = asyncio.Event()

    @property
    def heartbeat(self) -> None:
        return None

    @property
    def in_flight(self) -> int:
        """Deliveries handed out and not yet settled."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Records fetched and not yet handed out."""
        return sum(len(lane.waiting) for lane in self._lanes.values())

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

    def take_back(self, tp: TopicPartition, attempts: dict[int, int]) -> Lane:
        """The lane of a partition assigned (again): a partition this member held before the
        rebalance keeps its lane as it was (what it has out stays out, its keys busy), and
        its fetch goes on where it stopped; any other starts at the group's offset."""
        lane = self._parked.pop(tp, None)
        if lane is None:
            lane = Lane(tp, attempts)
        else:
            lane.live = True
            if lane.next is not None:
                self._consumer.seek(tp, lane.next)
        self._lanes[tp] = lane
        return lane

    async def revoke(self, tps: list[TopicPartition]) -> None:
        """Give up partitions (a rebalance): wait up to ``handover`` seconds for what this
        member has out of them to be settled, commit what is done, and park the lanes in case
        the same partitions come back (Kafka revokes all of them on every rebalance)."""
        lanes = [self._lanes.pop(tp) for tp in tps if tp in self._lanes]
        self._parked = {lane.tp: lane for lane in lanes}
        for lane in lanes:
            lane.live = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._handover):
                while not self._closed and any(lane.out for lane in lanes):
                    self._settled.clear()
                    await self._settled.wait()
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
            try:
                batches = await self._consumer.getmany(
                    timeout_ms=100, max_records=self.lane_capacity
                )
            except Exception:  # the client reconnects; fetch again shortly
                log.warning("fetching from Kafka for %s failed", self.topic, exc_info=True)
                await asyncio.sleep(0.5)
                continue
            for tp, records in batches.items():
                lane = self._lanes.get(tp)
                if lane is None:
                    continue
                for record in records:
                    if lane.next is not None and record.offset < lane.next:
                        continue  # fetched before this member took the partition back
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
                    lane.out += 1
                    self._ready.put_nowait(KafkaDelivery(self, lane, record))
                    self._dirty.set()

    def finish(self, lane: Lane, record: ConsumerRecord[bytes, bytes]) -> None:
        self._in_flight -= 1
        lane.out -= 1
        self._settled.set()
        key = key_of(record)
        if key is not None:
            lane.busy.discard(key)
        lane.outstanding.discard(record.offset)
        lane.attempts.pop(record.offset, None)
        self._dirty.set()
        self._dispatch()

    def _unhand(self, lane: Lane, record: ConsumerRecord[bytes, bytes]) -> None:
        """A delivery of a parked lane never taken by the reader: back in its lane's
        waiting records, in offset order, as if never handed out."""
        self._in_flight -= 1
        lane.out -= 1
        self._settled.set()
        key = key_of(record)
        if key is not None:
            lane.busy.discard(key)
        attempts = lane.attempts.pop(record.offset, 1) - 1
        if attempts:
            lane.attempts[record.offset] = attempts
        lane.waiting = deque(sorted([*lane.waiting, record], key=lambda r: int(r.offset)))

    def give_back(self, lane: Lane, record: ConsumerRecord[bytes, bytes], delay: float) -> None:
        """Settled for ``max_in_flight``; the record stays outstanding (the watermark waits)
        and its key busy until it goes back to the front of its lane after ``delay``."""
        self._in_flight -= 1
        lane.out -= 1
        self._settled.set()

        def back() -> None:
            self._held.pop((lane.tp, record.offset), None)
            key = key_of(record)
            if key is not None:
                lane.busy.discard(key)
            lane.waiting.appendleft(record)
            self._dispatch()

        if delay > 0 and not self._closed:
            handle = asyncio.get_running_loop().call_later(delay, back)
            self._held[(lane.tp, record.offset)] = handle
        else:
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
            self._unhand(delivery._lane, delivery._record)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._settled.set()  # a rebalance waiting for a handover waits no more
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
