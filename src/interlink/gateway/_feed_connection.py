"""One WebSocket client of an event feed: its subscriptions and its bounded send queue."""

from __future__ import annotations

import asyncio
from collections import deque

from interlink.gateway._feed_frames import FeedEvent
from interlink.gateway._identity import Identity

__all__ = ["DISCONNECTED", "FeedConnection"]

DISCONNECTED = 1006
"""The close code recorded when the client went away first (nothing is sent back)."""


class FeedConnection:
    """What the feed knows about one client.

    Invariant: the queue never holds more than ``max_queue`` frames. A frame that finds it
    full closes the connection (code 1013) and empties it, so a client that reads slower than
    events arrive costs at most ``max_queue`` frames of memory, then nothing.
    """

    __slots__ = (
        "_queue",
        "close_code",
        "close_reason",
        "closed",
        "identity",
        "last_seen",
        "max_queue",
        "peak",
        "subscriptions",
        "wakeup",
    )

    def __init__(self, identity: Identity | None, *, max_queue: int, now: float) -> None:
        self.identity = identity
        self.max_queue = max_queue
        self.subscriptions: set[tuple[str, str | None]] = set()
        self._queue: deque[str] = deque()
        self.peak = 0
        """The longest the queue has been."""
        self.wakeup = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self.last_seen = now

    def wants(self, event: FeedEvent) -> bool:
        subscriptions = self.subscriptions
        return (event.topic, None) in subscriptions or (
            event.key is not None and (event.topic, event.key) in subscriptions
        )

    def topics(self) -> set[str]:
        return {topic for topic, _ in self.subscriptions}

    def offer(self, frame: str) -> bool:
        """Queue a frame to send; False (and the connection closing) when there is no room."""
        if self.close_code is not None:
            return False
        if len(self._queue) >= self.max_queue:
            self.close(1013, f"slow consumer: more than {self.max_queue} frames waiting")
            return False
        self._queue.append(frame)
        self.peak = max(self.peak, len(self._queue))
        self.wakeup.set()
        return True

    def take(self) -> str | None:
        return self._queue.popleft() if self._queue else None

    def close(self, code: int, reason: str) -> None:
        """Ask for the connection to end with ``code``; the first reason given wins."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason
        self._queue.clear()
        self.wakeup.set()
        self.closed.set()
