"""Non-durable request/reply of the memory broker: requests go straight to a server's queue."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping

from interlink.broker._base import Reply
from interlink.broker._transient import (
    REPLY_TO,
    PendingReplies,
    TransientDelivery,
    TransientSubscription,
    no_responders,
)

__all__ = ["MemoryRequests"]

_PREFIX = "_INBOX.memory.direct."


class MemoryRequests:
    """Servers per topic, taking turns; a request waits (within its timeout) for room in the
    queue of the server whose turn it is."""

    def __init__(self, max_pending: int) -> None:
        self._servers: dict[str, list[TransientSubscription]] = {}
        self._turns = itertools.count()
        self._pending = PendingReplies(max_pending)

    async def serve(self, topic: str, max_in_flight: int) -> TransientSubscription:
        servers = self._servers.setdefault(topic, [])

        async def leave() -> None:
            servers.remove(subscription)
            if not servers and self._servers.get(topic) is servers:
                del self._servers[topic]

        subscription = TransientSubscription(max_in_flight, on_close=leave)
        servers.append(subscription)
        return subscription

    async def request(self, topic: str, body: bytes, timeout: float) -> Reply:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        token, future = self._pending.open()
        delivery = TransientDelivery(topic, body, {REPLY_TO: _PREFIX + token})
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    servers = self._servers.get(topic)
                    if not servers:
                        raise no_responders(topic)
                    server = servers[next(self._turns) % len(servers)]
                    if server.offer(delivery):
                        break
                    await server.room()
        except BaseException:
            self._pending.forget(token)
            raise
        return await self._pending.wait(token, future, deadline - loop.time())

    def owns(self, address: str) -> bool:
        return address.startswith(_PREFIX)

    def reply(self, address: str, body: bytes, headers: Mapping[str, str]) -> None:
        self._pending.resolve(address.removeprefix(_PREFIX), Reply(dict(headers), body))

    def close(self) -> None:
        self._pending.close()
