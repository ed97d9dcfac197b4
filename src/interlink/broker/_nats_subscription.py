"""A JetStream pull consumer as a Subscription; JetStream messages as Deliveries."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

from interlink.broker._base import Reply

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription as CoreSubscription
    from nats.js import JetStreamContext

__all__ = ["KEY_HEADER", "NatsDelivery", "NatsInbox", "NatsSubscription"]

KEY_HEADER = "Il-Key"
_FETCH_WAIT = 1.0  # seconds one pull request may wait on the server


class NatsSubscription:
    """Fetches up to ``batch`` messages at a time; the runtime takes them one by one.

    Invariant: ``_buffer`` holds at most one fetched batch. On close, anything fetched but not
    handed out is nacked at once, so another member gets it without waiting for ack_wait.
    """

    def __init__(self, topic: str, pull: JetStreamContext.PullSubscription, *, batch: int) -> None:
        self._topic = topic
        self._pull = pull
        self._batch = batch
        self._buffer: deque[Msg] = deque()
        self._closed = False
        self._fetching: asyncio.Task[list[Msg]] | None = None

    def __aiter__(self) -> NatsSubscription:
        return self

    async def __anext__(self) -> NatsDelivery:
        import nats.errors

        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._fetching = asyncio.ensure_future(
                self._pull.fetch(self._batch, timeout=_FETCH_WAIT)
            )
            try:
                self._buffer.extend(await self._fetching)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except asyncio.CancelledError:
                if self._closed:
                    raise StopAsyncIteration from None
                raise
            except nats.errors.ConnectionClosedError:
                raise StopAsyncIteration from None
            except nats.errors.Error:
                await asyncio.sleep(0.2)  # reconnecting: pull again shortly
            finally:
                self._fetching = None
        return NatsDelivery(self._topic, self._buffer.popleft())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._fetching is not None:
            self._fetching.cancel()
        while self._buffer:
            with contextlib.suppress(Exception):
                await self._buffer.popleft().nak()
        with contextlib.suppress(Exception):
            await self._pull.unsubscribe()


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
