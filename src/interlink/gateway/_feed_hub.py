"""One broker subscription per feed topic, fanned out in-process to the connections that
subscribed and that the topic's ``allow`` predicate lets see each event."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from interlink._errors import CodecError
from interlink.broker import Broker, Subscription
from interlink.gateway._feed_connection import FeedConnection
from interlink.gateway._feed_frames import FeedEvent, decode_event, event_frame
from interlink.gateway._identity import Identity

__all__ = ["Allow", "FeedStats", "TopicHub"]

Allow = Callable[[Identity | None, FeedEvent], bool]
"""May this identity (None: an anonymous connection) see this event?"""

log = logging.getLogger("interlink.gateway")
_FIRST_DELAY = 0.05
_MAX_DELAY = 5.0


@dataclass(frozen=True, slots=True)
class FeedStats:
    """Counters of one feed since it started."""

    connections: int
    """Connections open now."""
    events: int
    """Messages received from the broker on the feed's topics."""
    pushed: int
    """Event frames queued to connections (one event pushed to three clients counts three)."""
    dropped_slow: int
    """Connections closed (1013) because their queue was full."""
    peak_queue: int
    """The longest any connection's send queue has been."""
    undecodable: int
    """Messages that were not JSON, skipped."""


class TopicHub:
    def __init__(self, allow: Mapping[str, Allow], *, max_in_flight: int) -> None:
        self.allow = dict(allow)
        self.listeners: dict[str, set[FeedConnection]] = {topic: set() for topic in allow}
        self.connections: set[FeedConnection] = set()
        self._max_in_flight = max_in_flight
        self._subscriptions: dict[str, Subscription] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.events = self.pushed = self.dropped_slow = self.peak = self.undecodable = 0

    async def start(self, broker: Broker) -> None:
        try:
            for topic in self.allow:
                subscription = await self._subscribe(broker, topic)
                self._tasks.append(asyncio.create_task(self._run(broker, topic, subscription)))
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        for subscription in list(self._subscriptions.values()):
            await subscription.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._subscriptions.clear()
        self._tasks.clear()

    async def _subscribe(self, broker: Broker, topic: str) -> Subscription:
        subscription = await broker.subscribe(topic, group=None, max_in_flight=self._max_in_flight)
        self._subscriptions[topic] = subscription
        return subscription

    def stats(self) -> FeedStats:
        peak = max([self.peak, *(c.peak for c in self.connections)])
        return FeedStats(
            connections=len(self.connections),
            events=self.events,
            pushed=self.pushed,
            dropped_slow=self.dropped_slow,
            peak_queue=peak,
            undecodable=self.undecodable,
        )

    def forget(self, connection: FeedConnection) -> None:
        self.connections.discard(connection)
        self.peak = max(self.peak, connection.peak)
        for listeners in self.listeners.values():
            listeners.discard(connection)

    async def _run(self, broker: Broker, topic: str, subscription: Subscription) -> None:
        """Pump the topic; when its subscription breaks, close the connections that listen
        to it (1011: they may have missed events) and subscribe again, backing off."""
        delay = _FIRST_DELAY
        loop = asyncio.get_running_loop()
        while True:
            since = loop.time()
            try:
                await self._pump(topic, subscription)
                return  # closed by stop()
            except Exception:
                log.exception("the feed's subscription to %r broke; subscribing again", topic)
            with contextlib.suppress(Exception):
                await subscription.close()
            for connection in list(self.listeners[topic]):
                connection.close(1011, f"the feed lost its subscription to {topic}; reconnect")
            if loop.time() - since > 2 * _MAX_DELAY:
                delay = _FIRST_DELAY  # it had been working: this is a new outage
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_DELAY)
                try:
                    subscription = await self._subscribe(broker, topic)
                    break
                except Exception:
                    log.exception("the feed cannot subscribe to %r yet", topic)

    async def _pump(self, topic: str, subscription: Subscription) -> None:
        async for delivery in subscription:
            # Nothing is stored for a private listener: settle at once, the push is at most once.
            await delivery.ack()
            self.events += 1
            try:
                event = decode_event(topic, delivery.key, delivery.body, delivery.headers)
            except CodecError:
                self.undecodable += 1
                continue
            self.dispatch(event)

    def dispatch(self, event: FeedEvent) -> None:
        frame: str | None = None
        allow = self.allow[event.topic]
        for connection in self.listeners[event.topic]:
            if not connection.wants(event) or not _allowed(allow, connection.identity, event):
                continue
            if frame is None:
                frame = event_frame(event)
            was_open = connection.close_code is None
            if connection.offer(frame):
                self.pushed += 1
            elif was_open:
                self.dropped_slow += 1


def _allowed(allow: Allow, identity: Identity | None, event: FeedEvent) -> bool:
    try:
        return allow(identity, event) is True
    except Exception:  # a predicate that fails hides the event rather than break the feed
        log.exception("the allow predicate of %r raised; the event is not pushed", event.topic)
        return False
