"""Request/reply over a broker: many requests in flight on one reply inbox, matched by id;
or, non-durable, straight through the backend's own request path (:class:`DirectRequests`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from interlink._errors import ConfigurationError, DeadlineExceeded, PublishError
from interlink.broker import DirectRequests
from interlink.messaging import _headers as H

if TYPE_CHECKING:
    from interlink._envelope import Envelope
    from interlink.broker import Broker, Inbox, Reply

__all__ = ["Requester"]


class Requester:
    """Sends requests and routes replies back to their callers.

    One private inbox per Requester (opened on the first request); each request waits on a
    future keyed by its envelope id. A reply that comes after its request gave up is dropped
    and counted in ``late_replies``. At most ``max_pending`` requests wait at once.
    """

    def __init__(self, broker: Broker, *, max_pending: int = 10_000) -> None:
        self._broker = broker
        self._max = max_pending
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._inbox: Inbox | None = None
        self._reader: asyncio.Task[None] | None = None
        self._opening = asyncio.Lock()
        self._direct = broker if isinstance(broker, DirectRequests) else None
        self.late_replies = 0

    async def request(self, topic: str, envelope: Envelope, timeout: float | None) -> Reply:
        inbox = await self._open()
        if len(self._pending) >= self._max:
            raise PublishError(f"{self._max} requests are already waiting for replies")
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[envelope.id] = future
        try:
            async with asyncio.timeout(timeout):
                await self._broker.publish(
                    topic,
                    envelope.to_bytes(),
                    key=envelope.partitionkey,
                    headers={H.REPLY_TO: inbox.address},
                    message_id=envelope.id,
                )
                return await future
        except TimeoutError:
            raise DeadlineExceeded(f"no reply from {topic!r} within {timeout}s") from None
        finally:
            self._pending.pop(envelope.id, None)

    async def request_direct(self, topic: str, envelope: Envelope, timeout: float) -> Reply:
        """A non-durable request: nothing stored; ``ServiceUnavailable`` at once when nobody
        serves ``topic`` non-durably, ``DeadlineExceeded`` when no reply comes in time. A
        reply without a status header is a success (servers leave it out then)."""
        if self._direct is None:
            raise ConfigurationError(
                f"{self._broker.url.split('://')[0]} has no non-durable request/reply: "
                "request with durable=True"
            )
        try:
            return await self._direct.request(topic, envelope.to_bytes(), timeout=timeout)
        except TimeoutError:
            raise DeadlineExceeded(
                f"no reply from {topic!r} within {timeout}s (non-durable: the request is lost "
                "if its server died)"
            ) from None

    async def close(self) -> None:
        if self._inbox is not None:
            await self._inbox.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for future in self._pending.values():
            future.cancel()

    async def _open(self) -> Inbox:
        if self._inbox is None:
            async with self._opening:
                if self._inbox is None:
                    inbox = await self._broker.open_inbox()
                    self._reader = asyncio.create_task(self._read(inbox), name="replies")
                    self._inbox = inbox
        return self._inbox

    async def _read(self, inbox: Inbox) -> None:
        async for reply in inbox:
            future = self._pending.pop(reply.headers.get(H.REQUEST_ID, ""), None)
            if future is None or future.done():
                self.late_replies += 1
            else:
                future.set_result(reply)
