"""A member's JetStream pull consumers read as one Subscription."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import math
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from interlink.broker._nats_credit import Credit, Lane, Pull
from interlink.broker._nats_delivery import NatsDelivery, ack_info

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription as CoreSubscription

__all__ = ["NatsSubscription"]


class NatsSubscription:
    """Reads a member's lanes — the group's consumer of unkeyed messages and one consumer per
    partition, or a private listener's one consumer — within ``max_in_flight`` (see
    ``_nats_credit``).

    A pump task sends the pull requests the credit plan calls for whenever something changes:
    a message or a request's end arrives, a settlement is confirmed, a lane's rest is over.
    Everything arrives on one inbox: a JetStream message names its consumer in its ack subject,
    a request's end (a status) comes on that request's reply subject.

    A delivery holds its credit until JetStream confirms its ack, nak or term: only then has the
    server's ``num_ack_pending`` dropped, so the next pull cannot push it past the limit. The
    settlements of one loop iteration go out together, and only each lane's last one asks for a
    confirmation: a consumer's acks from one connection are processed in the order sent (the
    server queues them, per consumer, in the order the connection delivered them), so that
    confirmation covers the lane's earlier ones too. A pull request is *not* ordered after an
    ack (the server takes it from a different queue), which is why the credit waits for one.
    On close, anything received but not handed out is nacked at once, so another member gets it
    without waiting for ``ack_wait``.
    """

    def __init__(
        self,
        topic: str,
        nc: Client,
        *,
        stream: str,
        lanes: Sequence[Lane],
        max_in_flight: int,
        ack_wait: float,
        settle_timeout: float = 5.0,
    ) -> None:
        self._topic = topic
        self._nc = nc
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{stream}."
        self._inbox = nc.new_inbox()
        self._credit = Credit(lanes, max_in_flight)
        self._settle_timeout = settle_timeout
        self._ack_wait = ack_wait
        self._buffer: deque[tuple[Lane, Msg, int]] = deque()
        self._settling: dict[str, tuple[Lane, float, int]] = {}
        """token of a confirmation awaited -> its lane, when to stop waiting, how many it settles"""
        self._queued: list[tuple[Lane, str, bytes]] = []
        """settlements of this loop iteration, not sent yet: lane, ack subject, payload"""
        self._ids = itertools.count()
        self._changed = asyncio.Event()
        self._arrived: asyncio.Future[None] | None = None
        self._sub: CoreSubscription | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def heartbeat(self) -> float:
        """JetStream redelivers a message not acked within ``ack_wait``."""
        return self._ack_wait / 3

    async def open(self) -> None:
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_msg)
        self._pump_task = asyncio.create_task(self._pump(), name=f"pull {self._topic}")

    def __aiter__(self) -> NatsSubscription:
        return self

    async def __anext__(self) -> NatsDelivery:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._arrived = asyncio.get_running_loop().create_future()
            try:
                await self._arrived
            finally:
                self._arrived = None
        lane, msg, attempt = self._buffer.popleft()
        return NatsDelivery(self._topic, msg, functools.partial(self._settle, lane), attempt)

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            if self._nc.is_closed:
                self._stop()
                return
            self._changed.clear()
            now = loop.time()
            epoch = self._nc.stats["reconnects"]
            self._credit.forget_lost(now, epoch)
            self._forget_settling(now)
            for pull in self._credit.plan(now, epoch):
                await self._request(pull)
            wake = min(self._credit.wake_at(now), self._settling_ends())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wake - loop.time())):
                    await self._changed.wait()

    async def _request(self, pull: Pull) -> None:
        import nats.errors

        lane = pull.lane
        if pull.expires is None:
            body = b'{"batch":%d,"no_wait":true}' % pull.batch
        else:
            body = b'{"batch":%d,"expires":%d}' % (pull.batch, int(pull.expires * 1e9))
        try:
            await self._nc.publish(
                self._next + lane.consumer, body, reply=f"{self._inbox}.{lane.request}"
            )
        except nats.errors.ConnectionClosedError:
            self._stop()
        except nats.errors.Error:  # reconnecting: the lane rests, then asks again
            self._credit.ended(lane.request, "503", asyncio.get_running_loop().time())

    async def _on_msg(self, msg: Msg) -> None:
        if msg.reply:
            await self._arrive(msg)
        else:
            token = msg.subject[len(self._inbox) + 1 :]
            settling = self._settling.pop(token, None)
            if settling is not None:
                self._credit.settled(settling[0], settling[2])
            status = (msg.headers or {}).get("Status")
            if status is not None and status != "100":
                self._credit.ended(token, status, asyncio.get_running_loop().time())
        self._changed.set()

    async def _arrive(self, msg: Msg) -> None:
        consumer, attempt = ack_info(msg.reply)
        lane = self._credit.lanes.get(consumer)
        if lane is None or self._closed:
            with contextlib.suppress(Exception):
                await msg.nak()
            return
        self._credit.delivered(lane)
        self._buffer.append((lane, msg, attempt))
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)

    async def _settle(self, lane: Lane, msg: Msg, payload: bytes) -> None:
        """Ack, nak or term; the credit comes back when JetStream confirms it.

        Queued for the end of this loop iteration; the first settlement of an iteration sends
        the batch (and sees its error, if one)."""
        if self._closed:
            await self._nc.publish(msg.reply, payload)
            return
        self._queued.append((lane, msg.reply, payload))
        if len(self._queued) > 1:
            return
        try:
            await asyncio.sleep(0)
        finally:
            await self._send_queued()

    async def _send_queued(self) -> None:
        batch, self._queued = self._queued, []
        last: dict[Lane, int] = {}
        for n, (lane, _, _) in enumerate(batch):
            last[lane] = n
        counts = dict.fromkeys(last, 0)
        deadline = asyncio.get_running_loop().time() + self._settle_timeout
        publish = self._nc.publish
        n = -1
        try:
            for n, (lane, subject, payload) in enumerate(batch):
                counts[lane] += 1
                if last[lane] != n:
                    await publish(subject, payload)
                    continue
                token = f"a{next(self._ids)}"
                self._settling[token] = (lane, deadline, counts[lane])
                try:
                    await publish(subject, payload, reply=f"{self._inbox}.{token}")
                except BaseException:
                    del self._settling[token]
                    raise
                del counts[lane]
        except BaseException:  # what is not awaiting a confirmation gives its credit back
            for later, _, _ in batch[n + 1 :]:
                counts[later] += 1
            for lane, count in counts.items():
                self._credit.settled(lane, count)
            self._changed.set()
            raise

    def _forget_settling(self, now: float) -> None:
        """Confirmations that never came (a reconnect lost them) give the credit back anyway."""
        while self._settling:
            token, (lane, deadline, count) = next(iter(self._settling.items()))
            if deadline > now:
                return
            del self._settling[token]
            self._credit.settled(lane, count)

    def _settling_ends(self) -> float:
        return next((deadline for _, deadline, _ in self._settling.values()), math.inf)

    def _stop(self) -> None:
        self._closed = True
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)

    async def close(self) -> None:
        self._stop()
        pump, self._pump_task = self._pump_task, None
        if pump is None:
            return
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        while self._buffer:
            with contextlib.suppress(Exception):
                await self._buffer.popleft()[1].nak()
