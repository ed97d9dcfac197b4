"""Redis pub/sub for the Redis backend: wake-ups for waiting members, and reply inboxes.

Neither is stored: a wake-up that is lost (a reconnect) only delays a member until its next
timed poll; a reply that is lost is a request that times out, as on NATS core.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from interlink.broker._base import Reply

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

__all__ = ["Listener", "RedisInbox", "WakeUps", "encode_reply"]

log = logging.getLogger("interlink.broker.redis")
_PATTERN = "il:n:*"


class Listener:
    """One pub/sub connection and the task reading it, calling ``on_message(channel, data)``."""

    def __init__(self, client: Redis, on_message: Callable[[bytes, bytes], None]) -> None:
        self._pubsub: PubSub = client.pubsub()
        self._on_message = on_message
        self._task: asyncio.Task[None] | None = None

    async def open(self, *, channel: str | None = None, pattern: str | None = None) -> None:
        """Return once the server confirmed the subscription: nothing sent later is missed."""
        if pattern is not None:
            await self._pubsub.psubscribe(pattern)
        elif channel is not None:
            await self._pubsub.subscribe(channel)
        async with asyncio.timeout(10):
            while await self._pubsub.get_message(timeout=10) is None:
                pass
        self._task = asyncio.create_task(self._read(), name="redis pub/sub")

    async def _read(self) -> None:
        while True:
            try:
                message: dict[str, Any] | None = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=None
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a lost connection: redis-py resubscribes on reconnect
                log.debug("redis pub/sub read failed: %r", exc)
                await asyncio.sleep(0.2)
                continue
            if message is not None and message["type"] in ("message", "pmessage"):
                self._on_message(message["channel"], message["data"])

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]


class WakeUps:
    """Wakes the members of this process waiting on a topic when something changed there."""

    def __init__(self, client: Redis) -> None:
        self._client = client
        self._waiting: dict[bytes, set[asyncio.Event]] = {}
        self._listener: Listener | None = None

    async def add(self, channel: str, event: asyncio.Event) -> None:
        if self._listener is None:
            listener = Listener(self._client, self._wake)
            await listener.open(pattern=_PATTERN)
            self._listener = listener
        self._waiting.setdefault(channel.encode(), set()).add(event)

    def discard(self, channel: str, event: asyncio.Event) -> None:
        events = self._waiting.get(channel.encode())
        if events is not None:
            events.discard(event)
            if not events:
                del self._waiting[channel.encode()]

    def _wake(self, channel: bytes, data: bytes) -> None:
        for event in self._waiting.get(channel, ()):
            event.set()

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()


def encode_reply(body: bytes, headers: Mapping[str, str]) -> bytes:
    return msgspec.msgpack.encode((dict(headers), body))


_REPLY = msgspec.msgpack.Decoder(tuple[dict[str, str], bytes])


class RedisInbox:
    """Replies published to a channel of its own, queued (bounded) until read."""

    def __init__(self, client: Redis, address: str, limit: int = 10_000) -> None:
        self.address = address
        self._queue: asyncio.Queue[Reply | None] = asyncio.Queue()
        self._limit = limit
        self._listener = Listener(client, self._arrive)
        self._closed = False

    async def open(self) -> None:
        await self._listener.open(channel=self.address)

    def _arrive(self, channel: bytes, data: bytes) -> None:
        try:
            headers, body = _REPLY.decode(data)
        except msgspec.DecodeError:
            log.warning("dropped a reply on %s that is not an interlink reply", self.address)
            return
        if (
            self._queue.qsize() >= self._limit
        ):  # nobody waits for this many: the oldest requests timed out
            log.warning("reply inbox %s is full; dropped a reply", self.address)
            return
        self._queue.put_nowait(Reply(headers, body))

    def __aiter__(self) -> RedisInbox:
        return self

    async def __anext__(self) -> Reply:
        if self._closed:
            raise StopAsyncIteration
        reply = await self._queue.get()
        if reply is None:
            raise StopAsyncIteration
        return reply

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._listener.close()
        self._queue.put_nowait(None)
