"""One connection's life: read the client's frames, write queued frames, keep time."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect

from interlink.gateway._feed_connection import DISCONNECTED, FeedConnection
from interlink.gateway._feed_frames import (
    ClientFrame,
    FrameError,
    error_frame,
    parse_client_frame,
    reply_frame,
)
from interlink.gateway._feed_hub import TopicHub

if TYPE_CHECKING:
    from interlink.gateway._websocket import EventFeed

__all__ = ["FeedSession"]

IDLE = 4408
UNAUTHENTICATED = 4401
TOO_BIG = 1009


class FeedSession:
    def __init__(
        self, feed: EventFeed, hub: TopicHub, websocket: WebSocket, connection: FeedConnection
    ) -> None:
        self.feed = feed
        self.hub = hub
        self.websocket = websocket
        self.connection = connection
        self.loop = asyncio.get_running_loop()
        self.expires_at = _expiry(connection, self.loop.time())

    async def run(self) -> None:
        """Until the connection is asked to close (by either side, a limit or the feed)."""
        tasks = [asyncio.create_task(self._write()), asyncio.create_task(self._read())]
        try:
            await self.connection.closed.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self) -> None:
        connection = self.connection
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                connection.last_seen = self.loop.time()
                self._handle(message.get("text"), message.get("bytes"))
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass
        connection.close(DISCONNECTED, "")

    def _handle(self, text: str | None, data: bytes | None) -> None:
        connection = self.connection
        if text is None:
            connection.offer(error_frame("BadFrame", "send JSON in text frames"))
            return
        if len(text) > self.feed.max_frame:
            connection.close(TOO_BIG, f"frames are limited to {self.feed.max_frame} characters")
            return
        try:
            self._apply(parse_client_frame(text))
        except FrameError as exc:
            connection.offer(error_frame(exc.type, str(exc)))

    def _apply(self, frame: ClientFrame) -> None:
        connection = self.connection
        if frame.op == "ping":
            connection.offer(reply_frame("pong"))
        elif frame.op == "subscribe":
            assert frame.topic is not None  # checked by parse_client_frame
            self._subscribe(frame.topic, frame.key)
        elif frame.op == "unsubscribe":
            assert frame.topic is not None
            connection.subscriptions.discard((frame.topic, frame.key))
            if frame.topic not in connection.topics() and frame.topic in self.hub.listeners:
                self.hub.listeners[frame.topic].discard(connection)
            connection.offer(reply_frame("unsubscribed", frame.topic, frame.key))
        # "pong" only proves the client is alive: last_seen is already updated

    def _subscribe(self, topic: str, key: str | None) -> None:
        connection = self.connection
        listeners = self.hub.listeners.get(topic)
        if listeners is None:
            raise FrameError("UnknownTopic", f"this feed has no topic {topic!r}")
        if (topic, key) not in connection.subscriptions and (
            len(connection.subscriptions) >= self.feed.max_subscriptions
        ):
            raise FrameError(
                "TooManySubscriptions", f"at most {self.feed.max_subscriptions} per connection"
            )
        connection.subscriptions.add((topic, key))
        listeners.add(connection)
        connection.offer(reply_frame("subscribed", topic, key))

    async def _write(self) -> None:
        connection = self.connection
        heartbeat = self.feed.heartbeat
        next_ping = None if heartbeat is None else self.loop.time() + heartbeat
        try:
            while connection.close_code is None:
                now = self.loop.time()
                wait = min(self._idle_wait(now), self._expiry_wait(now))
                if next_ping is not None and heartbeat is not None and now >= next_ping:
                    connection.offer(reply_frame("ping"))
                    next_ping = now + heartbeat
                frame = connection.take()
                if frame is not None:
                    await self.websocket.send_text(frame)
                    continue
                if next_ping is not None:
                    wait = min(wait, next_ping - now)
                connection.wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await connection.wakeup.wait()
        except (WebSocketDisconnect, OSError, RuntimeError):
            connection.close(DISCONNECTED, "")

    def _expiry_wait(self, now: float) -> float:
        """Seconds until the identity's token expires (closing the connection if it has)."""
        if self.expires_at is None:
            return 3600.0
        left = self.expires_at - now
        if left <= 0:
            self.connection.close(UNAUTHENTICATED, "the token expired")
        return max(left, 0.0)

    def _idle_wait(self, now: float) -> float:
        """Seconds until the idle timeout (closing the connection if it has passed)."""
        idle = self.feed.idle_timeout
        if idle is None:
            return 3600.0
        left = self.connection.last_seen + idle - now
        if left <= 0:
            self.connection.close(IDLE, f"idle timeout: nothing received for {idle:g} s")
        return max(left, 0.0)


def _expiry(connection: FeedConnection, now: float) -> float | None:
    """When (loop time) the identity's ``exp`` claim passes, if it has one."""
    identity = connection.identity
    exp = None if identity is None else identity.claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    return now + (float(exp) - time.time())
