"""A member of a Redis consumer group, reading a topic's streams as one Subscription."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from interlink.broker._redis_layout import BODY, HEADERS, KEY, TopicKeys

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

    from interlink.broker._redis_pubsub import WakeUps

__all__ = ["RedisDelivery", "RedisSubscription", "Scripts"]

log = logging.getLogger("interlink.broker.redis")
_HEADERS = msgspec.json.Decoder(dict[str, str])
_ACK_BATCH = 512
"""Most acks in one script call; more wait for the next (bounded by ``max_in_flight``)."""
_IDLE_POLL = 1.0
"""Longest wait between polls: covers a wake-up lost to a reconnect, and another member's
delayed nack coming due."""


@dataclass(frozen=True, slots=True)
class Scripts:
    publish: AsyncScript
    parts: AsyncScript
    groups: AsyncScript
    poll: AsyncScript
    nack: AsyncScript
    ack: AsyncScript
    in_progress: AsyncScript


class RedisDelivery:
    __slots__ = ("_done", "_sub", "attempt", "body", "entry", "headers", "key", "lane", "topic")

    def __init__(
        self, sub: RedisSubscription, lane: int, entry: bytes, fields: list[bytes], attempt: int
    ) -> None:
        self._sub = sub
        self.topic = sub.topic
        self.lane = lane
        self.entry = entry
        self.attempt = attempt
        values = dict(zip(fields[::2], fields[1::2], strict=True))
        self.body: bytes = values.get(BODY, b"")
        key = values.get(KEY)
        self.key = key.decode() if key is not None else None
        raw = values.get(HEADERS)
        self.headers: Mapping[str, str] = _HEADERS.decode(raw) if raw else {}
        self._done = False

    async def ack(self) -> None:
        if not self._done:
            self._done = True
            await self._sub.settle(self, None)

    async def term(self) -> None:
        await self.ack()  # both mean "never again": XACK

    async def nack(self, delay: float = 0.0) -> None:
        if not self._done:
            self._done = True
            await self._sub.settle(self, max(0.0, delay))

    async def in_progress(self) -> None:
        if not self._done:
            await self._sub.touch(self)


class RedisSubscription:
    """Polls the group's streams with one script call (``POLL``) whenever something changed:
    a publish or a settlement on the topic (a pub/sub wake-up), a settlement here, a delayed
    entry coming due, or ``_IDLE_POLL`` passing. It asks for no more than its free credit:
    ``max_in_flight`` minus what it handed out and has not had settled, so that bounds the
    member's entries in the group's pending lists that it has not settled.
    """

    def __init__(
        self,
        scripts: Scripts,
        wakeups: WakeUps,
        keys: TopicKeys,
        *,
        lanes: Sequence[int],
        group: str,
        consumer: str,
        max_in_flight: int,
        ack_wait: float,
        private: bool = False,
    ) -> None:
        self.topic = keys.topic
        self._scripts = scripts
        self._wakeups = wakeups
        self._keys = keys
        self._lanes = list(lanes)
        self._group = group
        self._consumer = consumer
        self._max = max_in_flight
        self._ack_wait = ack_wait
        self.private = private
        self._out = 0
        """handed out (or buffered) and not settled"""
        self._buffer: deque[RedisDelivery] = deque()
        self._acks: list[tuple[RedisDelivery, asyncio.Future[None]]] = []
        self._acking: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        self._wake = asyncio.Event()
        self._closed = False
        self._pump_task: asyncio.Task[None] | None = None
        self._next_due = float("inf")
        self._turn = 0
        self.on_close: Callable[[], Awaitable[object]] | None = None
        """Run after close (a private listener drops its group)."""

    @property
    def heartbeat(self) -> float:
        """A delivery idle for ``ack_wait`` is claimed by another member."""
        return self._ack_wait / 3

    @property
    def group(self) -> str:
        return self._group

    @property
    def lanes(self) -> list[int]:
        return list(self._lanes)

    async def open(self) -> None:
        await self._wakeups.add(self._keys.channel, self._wake)
        self._pump_task = asyncio.create_task(self._pump(), name=f"poll {self.topic}")

    def __aiter__(self) -> RedisSubscription:
        return self

    async def __anext__(self) -> RedisDelivery:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._arrived.clear()
            await self._arrived.wait()
        return self._buffer.popleft()

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        next_scan = 0.0
        while not self._closed:
            self._wake.clear()
            now = loop.time()
            wait = _IDLE_POLL
            credit = self._max - self._out
            if credit > 0:
                scan = now >= next_scan
                if scan:
                    next_scan = now + self._ack_wait / 4
                try:
                    due_in = await self._poll(credit, scan)
                except Exception as exc:  # the server is away: try again shortly
                    log.warning("polling %s failed: %r", self.topic, exc)
                    due_in, wait = None, 0.2
                if due_in is not None:
                    self._next_due = min(self._next_due, now + due_in)
                wait = min(wait, next_scan - now)
            wait = min(wait, self._next_due - now)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wait)):
                    await self._wake.wait()
            if loop.time() >= self._next_due:
                self._next_due = float("inf")

    async def _poll(self, credit: int, scan: bool) -> float | None:
        """Take what the group may hand this member; returns seconds until a delayed entry
        of the group is due, if any."""
        # Start at another lane each time, so a small credit does not always go to the first.
        self._turn = turn = (self._turn + 1) % len(self._lanes)
        order = self._lanes[turn:] + self._lanes[:turn]
        keys: list[str] = []
        for lane in order:
            keys += (self._keys.stream(lane), self._keys.delayed(lane, self._group))
        args: list[Any] = [self._group, self._consumer, int(self._ack_wait * 1000), credit]
        reply = await self._scripts.poll(keys=keys, args=[*args, int(scan), *order])
        for i in range(1, len(reply), 4):
            lane, entry, fields, attempt = reply[i : i + 4]
            self._out += 1
            self._buffer.append(RedisDelivery(self, int(lane), entry, fields, int(attempt)))
        if len(reply) > 1:
            self._arrived.set()
        return None if reply[0] < 0 else reply[0] / 1000

    async def settle(self, delivery: RedisDelivery, delay: float | None) -> None:
        """Ack or term (``delay`` None), or nack; the credit comes back once Redis did it."""
        try:
            if delay is None:
                await self._ack(delivery)
            else:
                delayed = self._keys.delayed(delivery.lane, self._group)
                await self._scripts.nack(
                    keys=[delayed], args=[delivery.entry, int(delay * 1000), self._keys.channel]
                )
                if delay > 0:
                    loop = asyncio.get_running_loop()
                    self._next_due = min(self._next_due, loop.time() + delay)
        finally:
            self._out -= 1
            self._wake.set()

    async def _ack(self, delivery: RedisDelivery) -> None:
        """Acks made while another is on its way go together in the next script call (one
        round trip for many), each returning once Redis has applied its batch."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._acks.append((delivery, done))
        if self._acking is None or self._acking.done():
            self._acking = asyncio.create_task(self._send_acks(), name=f"ack {self.topic}")
        await asyncio.shield(done)  # a cancelled caller does not cancel the others' batch

    async def _send_acks(self) -> None:
        while self._acks:
            batch, self._acks = self._acks[:_ACK_BATCH], self._acks[_ACK_BATCH:]
            streams: dict[int, int] = {}
            args: list[Any] = [self._group, ""]
            for delivery, _ in batch:
                index = streams.setdefault(delivery.lane, len(streams) + 1)
                args += (index, delivery.entry)
                if delivery.lane:  # a partition's settlement lets a waiting member take more
                    args[1] = self._keys.channel
            keys = [self._keys.stream(lane) for lane in streams]
            try:
                await self._scripts.ack(keys=keys, args=args)
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def touch(self, delivery: RedisDelivery) -> None:
        await self._scripts.in_progress(
            keys=[self._keys.stream(delivery.lane)],
            args=[self._group, self._consumer, delivery.entry],
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._arrived.set()
        self._wakeups.discard(self._keys.channel, self._wake)
        pump, self._pump_task = self._pump_task, None
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        if self._acking is not None:  # acks on their way go out before the member leaves
            await asyncio.wait({self._acking})
        while self._buffer:  # taken from the group but never handed out: give them back now
            with contextlib.suppress(Exception):
                await self._buffer.popleft().nack()
        if self.on_close is not None:
            with contextlib.suppress(Exception):
                await self.on_close()
