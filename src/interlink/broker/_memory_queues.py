"""The moving parts of the memory broker: a member's subscription, a delivery, a reply inbox
(a group's queue is in ``_memory_group``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from interlink.broker._base import Reply, StoredMessage
from interlink.broker._memory_group import Group

if TYPE_CHECKING:
    from interlink.broker._memory import MemoryBroker

__all__ = ["MemoryDelivery", "MemoryInbox", "MemorySubscription"]

T = TypeVar("T")


class MemorySubscription:
    """One member of a group. It takes a message only while fewer than ``max_in_flight`` of
    its deliveries are unsettled; an ack, nack or term settles one."""

    def __init__(
        self,
        broker: MemoryBroker,
        group: Group,
        max_in_flight: int,
        forget: Callable[[], None] | None,
    ) -> None:
        self._broker = broker
        self._group = group
        self._max_in_flight = max_in_flight
        self._forget = forget
        self._unsettled = 0
        self._closed = False
        self._waiting: asyncio.Future[Any] | None = None
        self._credit: asyncio.Future[None] | None = None

    @property
    def heartbeat(self) -> None:
        """The memory broker never takes a delivery back on its own."""
        return None

    def __aiter__(self) -> MemorySubscription:
        return self

    async def __anext__(self) -> MemoryDelivery:
        while not self._closed and self._unsettled >= self._max_in_flight:
            self._credit = asyncio.get_running_loop().create_future()
            await self._wait(self._credit)
        if self._closed:  # checked before asking the group: it may hand a message at once
            raise StopAsyncIteration
        message, attempt = await self._wait(self._group.waiter())
        self._unsettled += 1
        return MemoryDelivery(self, message, attempt)

    async def _wait(self, future: asyncio.Future[T]) -> T:
        self._waiting = future
        try:
            return await future
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closed and (task is None or not task.cancelling()):
                raise StopAsyncIteration from None
            raise
        finally:
            self._waiting = None

    def settled(self, message: StoredMessage) -> None:
        """Acked or terminated (called by deliveries)."""
        self._release()
        self._group.settled(message)
        self._broker.settle()

    def returned(self, message: StoredMessage, attempt: int, delay: float) -> None:
        """Nacked: back to the group after ``delay`` (called by deliveries)."""
        self._release()
        self._broker.redeliver(self._group, (message, attempt), delay)

    def _release(self) -> None:
        self._unsettled -= 1
        self._group.out -= 1
        if self._credit is not None and not self._credit.done():
            self._credit.set_result(None)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._group.members -= 1
        # A hand-off that already happened is kept: __anext__ returns it and the runtime
        # finishes or returns it. Only an empty wait is cancelled.
        if self._waiting is not None and not self._waiting.done():
            self._waiting.cancel()
        if self._forget is not None:
            self._forget()


class MemoryDelivery:
    __slots__ = ("_done", "_member", "_message", "attempt")

    def __init__(self, member: MemorySubscription, message: StoredMessage, attempt: int) -> None:
        self._member = member
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
        if not self._done:
            self._done = True
            self._member.returned(self._message, self.attempt + 1, delay)

    def _settle(self) -> None:
        if not self._done:
            self._done = True
            self._member.settled(self._message)


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
