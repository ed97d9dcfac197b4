"""The moving parts of the memory broker: a group's queue, a member's subscription, a
delivery, a reply inbox."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

from interlink.broker._base import Reply, StoredMessage

if TYPE_CHECKING:
    from interlink.broker._memory import MemoryBroker

__all__ = ["Group", "MemoryDelivery", "MemoryInbox", "MemorySubscription"]

_Item = tuple[StoredMessage, int]


class Group:
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


class MemorySubscription:
    def __init__(self, broker: MemoryBroker, group: Group, forget: object) -> None:
        self._broker = broker
        self._group = group
        self._forget = forget
        self._closed = False
        self._waiting: asyncio.Future[_Item] | None = None

    def __aiter__(self) -> MemorySubscription:
        return self

    async def __anext__(self) -> MemoryDelivery:
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
        return MemoryDelivery(self._broker, self._group, message, attempt)

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


class MemoryDelivery:
    __slots__ = ("_broker", "_done", "_group", "_message", "attempt")

    def __init__(
        self, broker: MemoryBroker, group: Group, message: StoredMessage, attempt: int
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
        self._broker.redeliver(self._group, self._message, self.attempt + 1, delay)

    def _settle(self) -> None:
        if not self._done:
            self._done = True
            self._broker.settle()


class MemoryInbox:
    def __init__(self, address: str, queue: asyncio.Queue[Reply], forget: object) -> None:
        self.address = address
        self._queue = queue
        self._forget = forget
        self._closed = asyncio.Event()

    def __aiter__(self) -> MemoryInbox:
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
