"""The consumer runtime: one per subscription, the same above every broker.

decode ▸ validate ▸ handler ▸ publish held-back events ▸ ack. A handler that raises is
redelivered with exponential backoff; after ``max_attempts`` the message goes to the dead-letter
topic with the reason in its headers. A message that cannot be decoded goes there at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from interlink._envelope import Envelope, format_time
from interlink._errors import CodecError, InterlinkError

if TYPE_CHECKING:
    from interlink._handlers import Subscriber
    from interlink._runtime import Runtime
    from interlink.broker._base import Delivery, Subscription

__all__ = ["Consumer", "redelivery_delay"]

log = logging.getLogger("interlink")

_FIRST_FAILURES = 10_000
"""How many first-failure times a consumer remembers (for dead-letter headers)."""


def redelivery_delay(attempt: int, *, initial: float = 0.05, cap: float = 5.0) -> float:
    """Exponential backoff after the ``attempt``-th failed delivery."""
    return min(cap, initial * 2.0 ** (attempt - 1))


class Consumer:
    """Pulls deliveries for one subscriber, at most ``max_in_flight`` at a time."""

    def __init__(self, runtime: Runtime, subscriber: Subscriber[Any]) -> None:
        self._runtime = runtime
        self._sub = subscriber
        self._slots = asyncio.Semaphore(subscriber.max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._first_failure: OrderedDict[str, str] = OrderedDict()

    async def start(self) -> None:
        sub = self._sub
        self._subscription = await self._runtime.broker.subscribe(
            sub.topic, group=sub.group, max_in_flight=sub.max_in_flight
        )
        self._reader = asyncio.create_task(
            self._read(self._subscription), name=f"consume {sub.topic}"
        )

    async def stop(self, drain_timeout: float) -> None:
        """Stop taking deliveries, let in-flight ones finish, return the rest to the broker."""
        if self._subscription is not None:
            await self._subscription.close()
        if self._reader is not None:
            await self._reader
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=drain_timeout)
            for task in pending:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)

    async def _read(self, subscription: Subscription) -> None:
        while True:
            await self._slots.acquire()
            try:
                delivery = await anext(subscription)
            except StopAsyncIteration:
                self._slots.release()
                return
            task = asyncio.create_task(self._handle(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, delivery: Delivery) -> None:
        try:
            await self._process(delivery)
        finally:
            self._slots.release()

    async def _process(self, delivery: Delivery) -> None:
        sub = self._sub
        try:
            envelope = Envelope.from_bytes(delivery.body)
            message = sub.message.decode(bytes(envelope.data))
        except CodecError as exc:
            await self._dead_letter(delivery, exc, envelope_id=None)
            return
        ctx = self._runtime.handler_context(sub.service, envelope, None)
        try:
            if sub.context_param is None:
                await sub.fn(message)
            else:
                await sub.fn(message, ctx)
            await ctx.flush()
        except asyncio.CancelledError:
            ctx.discard()
            await delivery.nack()
            raise
        except Exception as exc:
            ctx.discard()
            await self._failed(delivery, envelope, exc)
            return
        self._first_failure.pop(envelope.id, None)
        await delivery.ack()

    async def _failed(self, delivery: Delivery, envelope: Envelope, exc: Exception) -> None:
        sub = self._sub
        first = self._first_failure.setdefault(envelope.id, format_time(self._runtime.clock.time()))
        while len(self._first_failure) > _FIRST_FAILURES:
            self._first_failure.popitem(last=False)
        if delivery.attempt >= sub.max_attempts:
            log.warning(
                "%s gave up on %s after %d attempts: %r",
                sub.name,
                envelope.id,
                delivery.attempt,
                exc,
            )
            await self._dead_letter(delivery, exc, envelope_id=envelope.id, first_failure=first)
            return
        log.info("%s failed on %s (attempt %d): %r", sub.name, envelope.id, delivery.attempt, exc)
        await delivery.nack(redelivery_delay(delivery.attempt))

    async def _dead_letter(
        self,
        delivery: Delivery,
        exc: Exception,
        *,
        envelope_id: str | None,
        first_failure: str | None = None,
    ) -> None:
        sub = self._sub
        now = format_time(self._runtime.clock.time())
        headers = {
            "x-interlink-error-type": type(exc).__name__,
            "x-interlink-error-message": str(exc)[:2000],
            "x-interlink-attempts": str(delivery.attempt),
            "x-interlink-original-topic": delivery.topic,
            "x-interlink-group": sub.group,
            "x-interlink-first-failure": first_failure or now,
            "x-interlink-last-failure": now,
        }
        try:
            await self._runtime.broker.publish(
                sub.dead_letter_topic, delivery.body, key=delivery.key, headers=headers
            )
        except InterlinkError:
            log.exception("could not dead-letter a message from %s; returning it", delivery.topic)
            await delivery.nack(redelivery_delay(delivery.attempt))
            return
        if envelope_id is not None:
            self._first_failure.pop(envelope_id, None)
        await delivery.term()
