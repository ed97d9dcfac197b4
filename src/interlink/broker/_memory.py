"""``memory://``: an in-process broker with the same delivery semantics as the real ones."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict, deque
from collections.abc import Mapping

from interlink._errors import PublishError
from interlink.broker._base import Reply, StoredMessage

__all__ = ["MemoryBroker"]

_Item = tuple[StoredMessage, int]


class _Group:
    """A consumer group's pending messages, handed straight to waiting members.

    Invariant: ``items`` is non-empty only while no member waits. Publishers wait while
    ``limit`` messages are pending; redeliveries never wait (they are bounded by in-flight).
    """

    __slots__ = ("_getters", "_space", "items", "limit", "members")

    def __init__(self, limit: int) -> None:
        self.items: deque[_Item] = deque()
        self.limit = limit
        self.members = 0
        self._getters: deque[asyncio.Future[_Item]] = deque()
        self._space = asyncio.Event()

    def push(self, item: _Item) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(item)
                return
        self.items.append(item)

    async def put(self, item: _Item) -> None:
        while len(self.items) >= self.limit:
            self._space.clear()
            await self._space.wait()
        self.push(item)

    def waiter(self) -> asyncio.Future[_Item]:
        future: asyncio.Future[_Item] = asyncio.get_running_loop().create_future()
        if self.items:
            future.set_result(self.items.popleft())
            if len(self.items) < self.limit:
                self._space.set()
        else:
            self._getters.append(future)
        return future


class _Topic:
    __slots__ = ("groups", "log", "seq")

    def __init__(self, retain: int) -> None:
        self.log: deque[StoredMessage] = deque(maxlen=retain)
        self.groups: dict[str, _Group] = {}
        self.seq = itertools.count(1)


class MemoryBroker:
    """Topics with retained logs, durable consumer groups, redelivery on nack.

    Bounded everywhere: each group buffers at most ``max_pending`` messages (a publisher waits
    when a group is full: backpressure, not growth), each topic keeps its last ``retain``
    messages (for ``read``: dead letters are listed from there), publish deduplication remembers
    ids for ``duplicate_window`` seconds (at most ``retain`` of them), and each reply inbox holds
    at most ``max_pending`` replies. Messages published before a group first subscribes are not
    delivered to it.
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

    async def connect(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True
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
        if message_id is not None and self._seen(message_id):
            return
        state = self._topic(topic)
        message = StoredMessage(topic, body, key, dict(headers or {}), next(state.seq))
        state.log.append(message)
        for group in list(state.groups.values()):
            self._track(1)
            await group.put((message, 1))

    async def subscribe(
        self, topic: str, *, group: str | None, max_in_flight: int
    ) -> _Subscription:
        state = self._topic(topic)
        name = f"\0private-{next(self._private)}" if group is None else group
        entry = state.groups.get(name)
        if entry is None:
            entry = state.groups[name] = _Group(self._max_pending)
        entry.members += 1
        forget = None if group is not None else (lambda: self._forget(state, name))
        return _Subscription(self, entry, forget)

    async def open_inbox(self) -> _Inbox:
        address = f"_INBOX.memory.{next(self._inbox_ids)}"
        queue: asyncio.Queue[Reply] = asyncio.Queue(self._max_pending)
        self._inboxes[address] = queue
        return _Inbox(address, queue, lambda: self._inboxes.pop(address, None))

    async def send_reply(self, address: str, body: bytes, headers: Mapping[str, str]) -> None:
        queue = self._inboxes.get(address)
        if queue is None or queue.full():
            self.dropped_replies += 1  # nobody listens (any more): like a core NATS publish
            return
        queue.put_nowait(Reply(dict(headers), body))

    async def read(self, topic: str, *, limit: int) -> list[StoredMessage]:
        state = self._topics.get(topic)
        return [] if state is None else list(itertools.islice(state.log, limit))

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
            self._track(-len(group.items))

    def _track(self, delta: int) -> None:
        self._outstanding += delta
        if self._outstanding == 0:
            self._idle.set()
        else:
            self._idle.clear()

    def _redeliver(self, group: _Group, message: StoredMessage, attempt: int, delay: float) -> None:
        if self._closed:
            return
        if delay <= 0:
            group.push((message, attempt))
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(timer)
            if not self._closed:
                group.push((message, attempt))

        timer = loop.call_later(delay, fire)
        self._timers.add(timer)


class _Subscription:
    def __init__(self, broker: MemoryBroker, group: _Group, forget: object) -> None:
        self._broker = broker
        self._group = group
        self._forget = forget
        self._closed = False
        self._waiting: asyncio.Future[_Item] | None = None

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> _Delivery:
        if self._closed:
            raise StopAsyncIteration
        self._waiting = self._group.waiter()
        try:
            message, attempt = await self._waiting
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closed and (task is None or not task.cancelling()):
                raise StopAsyncIteration from None
            raise
        finally:
            self._waiting = None
        return _Delivery(self._broker, self._group, message, attempt)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._group.members -= 1
        # A hand-off that already happened is kept: __anext__ returns it and the runtime
        # finishes or returns it. Only an empty wait is cancelled.
        if self._waiting is not None and not self._waiting.done():
            self._waiting.cancel()
        if callable(self._forget):
            self._forget()


class _Delivery:
    __slots__ = ("_broker", "_done", "_group", "_message", "attempt")

    def __init__(
        self, broker: MemoryBroker, group: _Group, message: StoredMessage, attempt: int
    ) -> None:
        self._broker = broker
        self._group = group
        self._message = message
        self.attempt = attempt
        self._done = False

    @property
    def topic(self) -> str:
        return self._message.topic

    @property
    def body(self) -> bytes:
        return self._message.body

    @property
    def headers(self) -> Mapping[str, str]:
        return self._message.headers

    @property
    def key(self) -> str | None:
        return self._message.key

    async def ack(self) -> None:
        self._settle()

    async def term(self) -> None:
        self._settle()

    async def in_progress(self) -> None:
        return None

    async def nack(self, delay: float = 0.0) -> None:
        if self._done:
            return
        self._done = True
        self._broker._redeliver(self._group, self._message, self.attempt + 1, delay)

    def _settle(self) -> None:
        if not self._done:
            self._done = True
            self._broker._track(-1)


class _Inbox:
    def __init__(self, address: str, queue: asyncio.Queue[Reply], forget: object) -> None:
        self.address = address
        self._queue = queue
        self._forget = forget
        self._closed = asyncio.Event()

    def __aiter__(self) -> _Inbox:
        return self

    async def __anext__(self) -> Reply:
        if self._closed.is_set():
            raise StopAsyncIteration
        get = asyncio.ensure_future(self._queue.get())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait((get, closed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if not get.done():
                get.cancel()
        if not get.done() or get.cancelled():
            raise StopAsyncIteration
        return get.result()

    async def close(self) -> None:
        self._closed.set()
        if callable(self._forget):
            self._forget()
