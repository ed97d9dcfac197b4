"""What a NATS subscription hands out: JetStream messages as Deliveries, replies from an inbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from interlink.broker._base import Reply

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription as CoreSubscription

__all__ = ["KEY_HEADER", "NatsDelivery", "NatsInbox", "ack_info"]

KEY_HEADER = "Il-Key"

Settle = Callable[["Msg", bytes], Awaitable[None]]
"""Sends an ack, nak or term for a message and tells its subscription when it is done."""


class NatsDelivery:
    __slots__ = ("_done", "_msg", "_settle", "attempt", "headers", "key", "topic")

    def __init__(self, topic: str, msg: Msg, settle: Settle, attempt: int) -> None:
        self.topic = topic
        self._msg = msg
        self._settle = settle
        headers = msg.headers
        if headers:
            headers = dict(headers)
            self.key = headers.pop(KEY_HEADER, None)
            headers.pop("Nats-Msg-Id", None)
        else:
            self.key, headers = None, {}
        self.headers: Mapping[str, str] = headers
        self.attempt = attempt
        self._done = False

    @property
    def body(self) -> bytes:
        return self._msg.data

    async def ack(self) -> None:
        await self._finish(b"+ACK")

    async def nack(self, delay: float = 0.0) -> None:
        await self._finish(b'-NAK {"delay": %d}' % int(delay * 1e9) if delay > 0 else b"-NAK")

    async def term(self) -> None:
        await self._finish(b"+TERM")

    async def in_progress(self) -> None:
        if not self._done:
            await self._msg.in_progress()

    async def _finish(self, payload: bytes) -> None:
        if not self._done:
            self._done = True
            await self._settle(self._msg, payload)


def ack_info(reply: str) -> tuple[str, int]:
    """The consumer that delivered a message and how many times JetStream has delivered it,
    read from its ack subject."""
    fields = _ack_fields(reply)
    consumer = fields[1] if len(fields) > 1 else ""
    try:
        return consumer, int(fields[2]) or 1
    except (IndexError, ValueError):
        return consumer, 1


def _ack_fields(reply: str) -> list[str]:
    """An ack subject from the stream on: ``$JS.ACK.<stream>.<consumer>.<delivered>.…`` (9
    tokens) or, with a domain and an account hash after ``ACK``,
    ``$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.…``."""
    tokens = reply.split(".")
    return tokens[2:] if len(tokens) == 9 else tokens[4:]


class NatsInbox:
    def __init__(self, address: str, sub: CoreSubscription) -> None:
        self.address = address
        self._sub = sub
        self._closed = False

    def __aiter__(self) -> NatsInbox:
        return self

    async def __anext__(self) -> Reply:
        import nats.errors

        while not self._closed:
            try:
                msg = await self._sub.next_msg(timeout=None)
            except (nats.errors.ConnectionClosedError, nats.errors.BadSubscriptionError):
                break
            except asyncio.CancelledError:
                if self._closed:
                    break
                raise
            return Reply(dict(msg.headers or {}), msg.data)
        raise StopAsyncIteration

    async def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()
