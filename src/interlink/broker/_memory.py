"""``memory://``: an in-process broker with the same delivery semantics as the real ones."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping

from interlink._errors import PublishError
from interlink.broker._base import Reply, StoredMessage, SubscriptionStats
from interlink.broker._memory_group import Group, Item
from interlink.broker._memory_queues import MemoryInbox, MemorySubscription
from interlink.broker._memory_requests import MemoryRequests
from interlink.broker._start import StartFrom, start_point
from interlink.broker._transient import TransientSubscription

__all__ = ["MemoryBroker"]


class _Topic:
    __slots__ = ("groups", "log", "seq")

    def __init__(self, retain: int) -> None:
        self.log: deque[StoredMessage] = deque(maxlen=retain)
        self.groups: dict[str, Group] = {}
        self.seq = itertools.count(1)


class MemoryBroker:
    """Topics with retained logs, durable consumer groups, redelivery on nack, key order.

    Within a group, a key's messages go out one at a time, in publish order, whichever member
    takes them (see ``Group``); each member holds at most ``max_in_flight`` unsettled
    deliveries. Bounded everywhere: each group buffers at most ``max_pending`` messages (a
    publisher waits when a group is full: backpressure, not growth), each topic keeps its last
    ``retain``
    messages (for ``read``: dead letters are listed from there), publish deduplication remembers
    ids for ``duplicate_window`` seconds (at most ``retain`` of them), and each reply inbox holds
    at most ``max_pending`` replies. Messages published before a group first subscribes are not
    delivered to it, unless it is created with ``start_from="earliest"`` or a time: then it
    starts with the retained messages (the last ``retain``) published since, and publishers
    wait while that is more than ``max_pending``.
    """

    def __init__(
        self, *, max_pending: int = 10_000, retain: int = 10_000, duplicate_window: float = 120.0
    ) -> None:
        self.url = "memory://"
        self._max_pending = max_pending
        self._retain = retain
        self._window = duplicate_window
        self._topics: dict[str, _Topic] = {}
        self._recent_ids: OrderedDict[str, float] = OrderedDict()
        self._inboxes: dict[str, asyncio.Queue[Reply]] = {}
        self._inbox_ids = itertools.count(1)
        self._private = itertools.count(1)
        self._timers: set[asyncio.TimerHandle] = set()
        self._outstanding = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self.dropped_replies = 0
        self._direct = MemoryRequests(max_pending)

    async def connect(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        self._direct.close()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    async def __aenter__(self) -> MemoryBroker:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        if self._closed:
            raise PublishError("the memory broker is closed")
        state = self._topic(topic)
        while (full := next((g for g in state.groups.values() if g.full()), None)) is not None:
            await full.room()
        # Invariant: no await from here on. Every group had room a moment ago and still has:
        # a publish cancelled while it waited reached no group, one that gets here reaches all.
        if message_id is not None and self._seen(message_id):
            return
        message = StoredMessage(
            topic, body, key, dict(headers or {}), next(state.seq), published=time.time()
        )
        state.log.append(message)
        for group in state.groups.values():
            self._track(1)
            group.publish((message, 1))

    async def subscribe(
        self,
        topic: str,
        *,
        group: str | None,
        max_in_flight: int,
        start_from: StartFrom = "new",
    ) -> MemorySubscription:
        start = start_point(start_from)
        state = self._topic(topic)
        name = f"\0private-{next(self._private)}" if group is None else group
        entry = state.groups.get(name)
        if entry is None:
            entry = state.groups[name] = Group(self._max_pending)
            if start != "new":
                since = None if start == "earliest" else start
                for message in _window(state.log, since, None):
                    self._track(1)
                    entry.publish((message, 1))
        entry.members += 1
        forget = None if group is not None else (lambda: self._forget(state, name))
        return MemorySubscription(self, entry, max_in_flight, forget)

    async def open_inbox(self) -> MemoryInbox:
        address = f"_INBOX.memory.{next(self._inbox_ids)}"
        queue: asyncio.Queue[Reply] = asyncio.Queue(self._max_pending)
        self._inboxes[address] = queue
        return MemoryInbox(address, queue, lambda: self._inboxes.pop(address, None))

    async def serve_requests(self, topic: str, *, max_in_flight: int) -> TransientSubscription:
        return await self._direct.serve(topic, max_in_flight)

    async def request(self, topic: str, body: bytes, *, timeout: float) -> Reply:
        if self._closed:
            raise PublishError("the memory broker is closed")
        return await self._direct.request(topic, body, timeout)

    async def send_reply(self, address: str, body: bytes, headers: Mapping[str, str]) -> None:
        if self._direct.owns(address):
            self._direct.reply(address, body, headers)
            return
        queue = self._inboxes.get(address)
        if queue is None or queue.full():
            self.dropped_replies += 1  # nobody listens (any more): like a core NATS publish
            return
        queue.put_nowait(Reply(dict(headers), body))

    async def read(
        self,
        topic: str,
        *,
        limit: int,
        since: float | None = None,
        until: float | None = None,
    ) -> list[StoredMessage]:
        state = self._topics.get(topic)
        if state is None:
            return []
        return list(itertools.islice(_window(state.log, since, until), limit))

    async def remove(self, topic: str, ref: int) -> None:
        state = self._topics.get(topic)
        if state is not None:
            kept = [m for m in state.log if m.ref != ref]
            state.log.clear()
            state.log.extend(kept)

    async def purge(self, topic: str) -> int:
        state = self._topics.get(topic)
        if state is None:
            return 0
        count = len(state.log)
        state.log.clear()
        return count

    async def subscription_stats(self, topic: str, group: str) -> SubscriptionStats:
        state = self._topics.get(topic)
        entry = None if state is None else state.groups.get(group)
        if entry is None:
            return SubscriptionStats(pending=0, unacknowledged=0)
        return SubscriptionStats(pending=entry.undelivered, unacknowledged=entry.out)

    def messages(self, topic: str) -> list[StoredMessage]:
        """The retained messages of a topic, oldest first (synchronous, for tests)."""
        state = self._topics.get(topic)
        return [] if state is None else list(state.log)

    def topics(self) -> list[str]:
        return sorted(self._topics)

    async def wait_idle(self) -> None:
        """Wait until every delivery to every group has been acked or terminated."""
        await self._idle.wait()

    @property
    def outstanding(self) -> int:
        return self._outstanding

    def _seen(self, message_id: str) -> bool:
        now = time.monotonic()
        recent = self._recent_ids
        while recent and (
            next(iter(recent.values())) < now - self._window or len(recent) >= self._retain
        ):
            recent.popitem(last=False)
        if message_id in recent:
            return True
        recent[message_id] = now
        return False

    def _topic(self, topic: str) -> _Topic:
        state = self._topics.get(topic)
        if state is None:
            state = self._topics[topic] = _Topic(self._retain)
        return state

    def _forget(self, state: _Topic, name: str) -> None:
        group = state.groups.pop(name, None)
        if group is not None:
            group.close()
            self._track(-group.undelivered)

    def settle(self) -> None:
        """One delivery was acked or terminated (called by deliveries)."""
        self._track(-1)

    def _track(self, delta: int) -> None:
        self._outstanding += delta
        if self._outstanding == 0:
            self._idle.set()
        else:
            self._idle.clear()

    def redeliver(self, group: Group, item: Item, delay: float) -> None:
        """Put a nacked message back in its group after ``delay`` (called by deliveries)."""
        if self._closed:
            return
        if delay <= 0:
            self._return(group, item)
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(timer)
            if not self._closed:
                self._return(group, item)

        timer = loop.call_later(delay, fire)
        self._timers.add(timer)

    def _return(self, group: Group, item: Item) -> None:
        if group.closed:  # a private listener that is gone: nobody will take it
            self._track(-1)
        else:
            group.redeliver(item)


def _window(
    log: deque[StoredMessage], since: float | None, until: float | None
) -> Iterator[StoredMessage]:
    """The retained messages stored at or after ``since`` and before ``until``, oldest first."""
    for message in log:
        if until is not None and message.published >= until:
            return
        if since is None or message.published >= since:
            yield message
