"""``memory://``: an in-process broker with the same delivery semantics as the real ones."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from interlink._errors import PublishError

__all__ = ["MemoryBroker", "StoredMessage"]

_CLOSED = object()


@dataclass(frozen=True, slots=True)
class StoredMessage:
    topic: str
    body: bytes
    key: str | None
    headers: Mapping[str, str]


class _Group:
    """A consumer group's pending messages, handed straight to waiting members.

    Invariant: ``items`` is non-empty only while no member waits. Publishers wait while
    ``limit`` messages are pending; redeliveries never wait (they are bounded by in-flight).
    """

    __slots__ = ("_getters", "_space", "items", "limit", "members")

    def __init__(self, limit: int) -> None:
        self.items: deque[tuple[StoredMessage, int]] = deque()
        self.limit = limit
        self.members = 0
        self._getters: deque[asyncio.Future[tuple[StoredMessage, int]]] = deque()
        self._space = asyncio.Event()

    def push(self, item: tuple[StoredMessage, int]) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(item)
                return
        self.items.append(item)

    async def put(self, item: tuple[StoredMessage, int]) -> None:
        while len(self.items) >= self.limit:
            self._space.clear()
            await self._space.wait()
        self.push(item)

    def waiter(self) -> asyncio.Future[tuple[StoredMessage, int]]:
        future: asyncio.Future[tuple[StoredMessage, int]] = (
            asyncio.get_running_loop().create_future()
        )
        if self.items:
            future.set_result(self.items.popleft())
            if len(self.items) < self.limit:
                self._space.set()
        else:
            self._getters.append(future)
        return future


@dataclass(slots=True)
class _Topic:
    log: deque[StoredMessage]
    groups: dict[str, _Group] = field(default_factory=dict)


class MemoryBroker:
    """Topics with retained logs, durable consumer groups, redelivery on nack.

    Bounded everywhere: each group buffers at most ``max_pending`` messages (a publisher waits
    when a group is full: backpressure, not growth) and each topic keeps its last
    ``retain`` messages for inspection (``messages(topic)``), dead-letter topics included.
    Messages published before a group first subscribes are not delivered to it.
    """

    def __init__(self, *, max_pending: int = 10_000, retain: int = 10_000) -> None:
        self.url = "memory://"
        self._max_pending = max_pending
        self._retain = retain
        self._topics: dict[str, _Topic] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._outstanding = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

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
    ) -> None:
        if self._closed:
            raise PublishError("the memory broker is closed")
        message = StoredMessage(topic, body, key, dict(headers or {}))
        state = self._topic(topic)
        state.log.append(message)
        for group in list(state.groups.values()):
            self._track(1)
            await group.put((message, 1))

    async def subscribe(self, topic: str, *, group: str, max_in_flight: int) -> _Subscription:
        state = self._topic(topic)
        entry = state.groups.get(group)
        if entry is None:
            entry = state.groups[group] = _Group(self._max_pending)
        entry.members += 1
        return _Subscription(self, entry)

    def messages(self, topic: str) -> list[StoredMessage]:
        """The retained messages of a topic, oldest first."""
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

    def _topic(self, topic: str) -> _Topic:
        state = self._topics.get(topic)
        if state is None:
            state = self._topics[topic] = _Topic(deque(maxlen=self._retain))
        return state

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
    def __init__(self, broker: MemoryBroker, group: _Group) -> None:
        self._broker = broker
        self._group = group
        self._closed = False
        self._waiting: asyncio.Future[tuple[StoredMessage, int]] | None = None

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

    async def nack(self, delay: float = 0.0) -> None:
        if self._done:
            return
        self._done = True
        self._broker._redeliver(self._group, self._message, self.attempt + 1, delay)

    def _settle(self) -> None:
        if not self._done:
            self._done = True
            self._broker._track(-1)
