"""A JetStream pull consumer as a Subscription; JetStream messages as Deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

from interlink.broker._base import Reply

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription as CoreSubscription

__all__ = ["KEY_HEADER", "NatsDelivery", "NatsInbox", "NatsSubscription"]

KEY_HEADER = "Il-Key"
_PULL_WAIT = 5.0
"""Seconds one pull request waits on the server for messages before it lapses (408)."""
_PULL_GRACE = 1.0
"""Seconds past that after which a request the server never ended is forgotten."""


class NatsSubscription:
    """Keeps pull requests open on a JetStream consumer; the runtime takes messages one by one.

    Messages flow into ``_buffer`` as the server has them: no fetch round trip per batch, no
    wait for a batch to fill. The runtime calls ``__anext__`` only with a free slot, and more
    is asked for only then, when at most half of ``batch`` is buffered or still due.

    Deliveries do not say which request they answer, so ``_due`` counts down per message; a
    request that ends early (408 lapsed, 409 or 503 refused) names its own reply subject and
    how many it leaves undelivered. If the server goes quiet for longer than any request can
    wait (a reconnect lost them), nothing is due any more.

    Invariant: ``len(_buffer) + _due <= batch`` (outside that recovery). On close, anything
    received but not handed out is nacked at once, so another member gets it without waiting
    for ack_wait.
    """

    def __init__(
        self, topic: str, nc: Client, *, stream: str, consumer: str, batch: int, ack_wait: float
    ) -> None:
        self._topic = topic
        self._ack_wait = ack_wait
        self._nc = nc
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._inbox = nc.new_inbox()
        self._batch = batch
        self._buffer: deque[Msg] = deque()
        self._pulls: dict[str, int] = {}
        """reply subject of each open request -> how many it asked for"""
        self._due = 0
        self._ids = itertools.count()
        self._quiet_since = 0.0
        self._wakeup: asyncio.Future[None] | None = None
        self._sub: CoreSubscription | None = None
        self._closed = False
        self._refused = False

    @property
    def heartbeat(self) -> float:
        """JetStream redelivers a message not acked within ``ack_wait``."""
        return self._ack_wait / 3

    async def open(self) -> None:
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_msg)

    def __aiter__(self) -> NatsSubscription:
        return self

    async def __anext__(self) -> NatsDelivery:
        buffer = self._buffer
        if len(buffer) + self._due <= self._batch // 2 and not self._closed:
            await self._pull()
        while not buffer:
            if self._closed:
                raise StopAsyncIteration
            await self._idle()
        return NatsDelivery(self._topic, buffer.popleft())

    async def _pull(self) -> None:
        import nats.errors

        count = self._batch - len(self._buffer) - self._due
        reply = f"{self._inbox}.{next(self._ids)}"
        request = b'{"batch":%d,"expires":%d}' % (count, int(_PULL_WAIT * 1e9))
        self._pulls[reply] = count
        self._due += count
        self._quiet_since = asyncio.get_running_loop().time()
        try:
            await self._nc.publish(self._next, request, reply=reply)
        except nats.errors.ConnectionClosedError:
            self._closed = True
        except nats.errors.Error:
            self._ended(reply, None)
            await asyncio.sleep(0.2)  # reconnecting: pull again shortly

    async def _idle(self) -> None:
        """Wait for a message; pull again when too little is due."""
        loop = asyncio.get_running_loop()
        if loop.time() >= self._quiet_since + _PULL_WAIT + _PULL_GRACE:
            self._pulls.clear()
            self._due = 0
        if self._refused:  # the consumer is being replaced, or too many requests wait
            self._refused = False
            await asyncio.sleep(0.2)
        if self._due <= self._batch // 2 and not self._closed:
            await self._pull()
            if self._buffer or self._closed:
                return
        self._wakeup = loop.create_future()
        timer = loop.call_at(self._quiet_since + _PULL_WAIT + _PULL_GRACE, _wake, self._wakeup)
        try:
            await self._wakeup
        finally:
            timer.cancel()
            self._wakeup = None

    async def _on_msg(self, msg: Msg) -> None:
        self._quiet_since = asyncio.get_running_loop().time()
        if not msg.reply:  # a status for one request: 408 lapsed, 409 or 503 refused
            headers = msg.headers or {}
            status = headers.get("Status")
            if status is not None and status != "100":
                self._ended(msg.subject, headers.get("Nats-Pending-Messages"))
                self._refused = status not in ("404", "408")
        elif self._closed:
            with contextlib.suppress(Exception):
                await msg.nak()
            return
        else:
            self._due -= 1
            if self._due <= 0:  # every open request is answered in full
                self._due = 0
                self._pulls.clear()
            self._buffer.append(msg)
        if self._wakeup is not None:
            _wake(self._wakeup)

    def _ended(self, reply: str, undelivered: str | None) -> None:
        asked = self._pulls.pop(reply, None)
        if asked is not None:
            left = asked if undelivered is None else int(undelivered)
            self._due = max(0, self._due - left)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._wakeup is not None:
            _wake(self._wakeup)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
        while self._buffer:
            with contextlib.suppress(Exception):
                await self._buffer.popleft().nak()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class NatsDelivery:
    __slots__ = ("_done", "_msg", "attempt", "headers", "key", "topic")

    def __init__(self, topic: str, msg: Msg) -> None:
        self.topic = topic
        self._msg = msg
        headers = msg.headers
        if headers:
            headers = dict(headers)
            self.key = headers.pop(KEY_HEADER, None)
            headers.pop("Nats-Msg-Id", None)
        else:
            self.key, headers = None, {}
        self.headers: Mapping[str, str] = headers
        self.attempt = _delivered(msg.reply)
        self._done = False

    @property
    def body(self) -> bytes:
        return self._msg.data

    async def ack(self) -> None:
        if not self._done:
            self._done = True
            await self._msg.ack()

    async def nack(self, delay: float = 0.0) -> None:
        if not self._done:
            self._done = True
            await self._msg.nak(delay=delay if delay > 0 else None)

    async def term(self) -> None:
        if not self._done:
            self._done = True
            await self._msg.term()

    async def in_progress(self) -> None:
        if not self._done:
            await self._msg.in_progress()


def _delivered(reply: str) -> int:
    """How many times JetStream has delivered this message, read from its ack subject:
    ``$JS.ACK.<stream>.<consumer>.<delivered>.…`` (9 tokens) or, with a domain and an account
    hash after ``ACK``, ``$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.…``."""
    tokens = reply.split(".")
    try:
        return int(tokens[4] if len(tokens) == 9 else tokens[6]) or 1
    except (IndexError, ValueError):
        return 1


class NatsInbox:
    def __init__(self, address: str, sub: CoreSubscription) -> None:
        self.address = address
        self._sub = sub
        self._closed = False

    def __aiter__(self) -> NatsInbox:
        return self

    async def __anext__(self) -> Reply:
        import nats.errors

        while not self._closed:
            try:
                msg = await self._sub.next_msg(timeout=None)
            except (nats.errors.ConnectionClosedError, nats.errors.BadSubscriptionError):
                break
            except asyncio.CancelledError:
                if self._closed:
                    break
                raise
            return Reply(dict(msg.headers or {}), msg.data)
        raise StopAsyncIteration

    async def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()
