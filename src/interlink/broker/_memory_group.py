"""A memory consumer group: its undelivered messages, key order, and its waiting members."""

from __future__ import annotations

import asyncio
from collections import deque

from interlink.broker._base import StoredMessage

__all__ = ["Group", "Item"]

Item = tuple[StoredMessage, int]
"""A message and which delivery attempt of it this is."""


class Group:
    """A consumer group's undelivered messages, handed to members as they ask.

    Key order: at most one message of a key is out of ``_later`` — ready, handed to a member,
    or waiting out a nack's delay. The key's next message leaves ``_later`` only when that one
    is acked or terminated, so members never run two messages of a key at once, and a returned
    message comes back before anything published after it. Unkeyed messages go to any member.

    Invariant: ``_ready`` is non-empty only while no member waits. ``undelivered`` counts
    ``_ready`` and ``_later``; publishers wait while it is at ``limit`` (redeliveries never
    wait: in-flight bounds them).
    """

    __slots__ = (
        "_getters",
        "_later",
        "_ready",
        "_space",
        "closed",
        "limit",
        "members",
        "out",
        "undelivered",
    )

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.members = 0
        self.undelivered = 0
        self.out = 0
        """Handed to a member and not yet settled or returned."""
        self.closed = False
        self._ready: deque[Item] = deque()
        self._later: dict[str, deque[Item]] = {}
        """key -> its messages behind the one that is out (present while one is out)"""
        self._getters: deque[asyncio.Future[Item]] = deque()
        self._space = asyncio.Event()

    def full(self) -> bool:
        return self.undelivered >= self.limit and not self.closed

    def close(self) -> None:
        """Nobody will read this group again (a private listener left): stop holding up
        publishers."""
        self.closed = True
        self._space.set()

    async def room(self) -> None:
        """Wait until the group can take another message."""
        while self.full():
            self._space.clear()
            await self._space.wait()

    def publish(self, item: Item) -> None:
        self.undelivered += 1
        key = item[0].key
        if key is None:
            self._offer(item)
        elif key in self._later:
            self._later[key].append(item)
        else:
            self._later[key] = deque()
            self._offer(item)

    def redeliver(self, item: Item) -> None:
        """A returned message comes back (its key's later messages still wait behind it)."""
        self.undelivered += 1
        self._offer(item)

    def settled(self, message: StoredMessage) -> None:
        """Acked or terminated: the key's next message may go out."""
        key = message.key
        if key is None or key not in self._later:
            return
        later = self._later[key]
        if later:
            self._offer(later.popleft())
        else:
            del self._later[key]

    def waiter(self) -> asyncio.Future[Item]:
        future: asyncio.Future[Item] = asyncio.get_running_loop().create_future()
        if self._ready:
            self._handed(future, self._ready.popleft())
        else:
            self._getters.append(future)
        return future

    def _offer(self, item: Item) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                self._handed(getter, item)
                return
        self._ready.append(item)

    def _handed(self, future: asyncio.Future[Item], item: Item) -> None:
        future.set_result(item)
        self.undelivered -= 1
        self.out += 1
        if not self.full():
            self._space.set()
