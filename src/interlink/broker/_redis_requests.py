"""Non-durable request/reply on Redis: a list per topic for requests, pub/sub for replies.

A server subscribes to the topic's presence channel ``il:s:<topic>`` and pops requests from
the list ``il:q:<topic>`` (``BLPOP`` on a connection of its own), so each request goes to one
server. A caller pushes with one script that first asks Redis how many servers are subscribed
(``PUBSUB NUMSUB``): none is "no responder" at once; a server whose connection dropped stops
counting at that moment. The list expires ``timeout`` after the last push, so a request left
behind by servers that all stopped does not outlive its caller. Replies are published to the
caller's own channel with the request's token. Nothing here is written to a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec

from interlink.broker._base import Reply
from interlink.broker._redis_pubsub import Listener
from interlink.broker._transient import (
    REPLY_TO,
    PendingReplies,
    TransientDelivery,
    TransientSubscription,
    no_responders,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisRequests"]

PUSH = """
-- KEYS: list   ARGV: presence channel, expiry (ms), request
if tonumber(redis.call('PUBSUB', 'NUMSUB', ARGV[1])[2]) == 0 then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

_REQUEST = msgspec.msgpack.Decoder(tuple[str, bytes])
_REPLY = msgspec.msgpack.Decoder(tuple[str, dict[str, str], bytes])
_SEP = "#"


def _ignore(channel: bytes, data: bytes) -> None:
    return None


class RedisRequests:
    """One per broker: the caller's reply channel (opened on the first request) and its
    waiting requests, and the servers this process runs."""

    def __init__(self, client: Redis, listening: Redis, url: str) -> None:
        self._client = client
        self._listening = listening
        self._url = url
        self._push = client.register_script(PUSH)
        self._pending = PendingReplies()
        self._channel = f"il:rr:{uuid.uuid4().hex}"
        self._replies: Listener | None = None
        self._opening = asyncio.Lock()

    async def request(self, topic: str, body: bytes, timeout: float) -> Reply:
        await self._open()
        token, future = self._pending.open()
        payload = msgspec.msgpack.encode((f"{self._channel}{_SEP}{token}", body))
        expiry = max(1, int(timeout * 1000))
        try:
            pushed = await self._push(
                keys=[f"il:q:{topic}"], args=[f"il:s:{topic}", expiry, payload]
            )
        except BaseException:
            self._pending.forget(token)
            raise
        if not pushed:
            self._pending.forget(token)
            raise no_responders(topic)
        return await self._pending.wait(token, future, timeout)

    async def _open(self) -> None:
        if self._replies is None:
            async with self._opening:
                if self._replies is None:
                    replies = Listener(self._listening, self._arrive)
                    await replies.open(channel=self._channel)
                    self._replies = replies

    def _arrive(self, channel: bytes, data: bytes) -> None:
        try:
            token, headers, body = _REPLY.decode(data)
        except msgspec.DecodeError:
            return
        self._pending.resolve(token, Reply(headers, body))

    @staticmethod
    def owns(address: str) -> bool:
        return address.startswith("il:rr:")

    async def reply(self, address: str, body: bytes, headers: Mapping[str, str]) -> None:
        channel, _, token = address.partition(_SEP)
        await self._client.publish(channel, msgspec.msgpack.encode((token, dict(headers), body)))

    async def serve(self, topic: str, max_in_flight: int) -> TransientSubscription:
        import redis.asyncio

        presence = Listener(self._listening, _ignore)
        await presence.open(channel=f"il:s:{topic}")
        popper = redis.asyncio.Redis.from_url(self._url, decode_responses=False)
        subscription = TransientSubscription(max_in_flight)
        task = asyncio.create_task(
            _pop(popper, f"il:q:{topic}", topic, subscription), name=f"requests {topic}"
        )

        async def leave() -> None:
            await presence.close()  # callers see no responder from here on
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(Exception):
                await popper.aclose()

        subscription.on_close = leave
        return subscription

    async def close(self) -> None:
        self._pending.close()
        replies, self._replies = self._replies, None
        if replies is not None:
            await replies.close()


async def _pop(client: Redis, key: str, topic: str, into: TransientSubscription) -> None:
    """Pop one request at a time, only while ``into`` has room: the rest wait in Redis."""
    while True:
        await into.room()
        try:
            popped = await client.blpop([key], timeout=0)
        except asyncio.CancelledError:
            raise
        except Exception:  # a lost connection: redis-py reconnects on the next command
            await asyncio.sleep(0.2)
            continue
        if popped is None:
            continue
        raw = popped[1]
        try:
            address, body = _REQUEST.decode(raw.encode() if isinstance(raw, str) else raw)
        except msgspec.DecodeError:
            continue
        into.offer(TransientDelivery(topic, body, {REPLY_TO: address}))
