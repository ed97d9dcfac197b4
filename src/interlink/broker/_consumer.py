"""The consumer runtime: one per subscription, the same above every broker.

decode ▸ dedupe ▸ handler ▸ publish held-back events ▸ reply ▸ ack. A handler that raises is
tried again per the subscription's ``Retry``: a message without a key goes back to the broker
with a delay (any member may take it); a message with a key is retried in place, so the
messages of one key are handled one at a time, in order, while other keys run in parallel.
When attempts run out, or the error is not one to retry, the message goes to the dead-letter
topic with the reason. A message that cannot be decoded goes there at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any

from interlink._envelope import Envelope, format_time
from interlink._errors import CodecError, InterlinkError
from interlink._invoke import classify_failure
from interlink._wire import error_outcome
from interlink.broker import _headers as H

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from interlink._context import Context
    from interlink._handlers import Subscriber
    from interlink._runtime import Runtime
    from interlink.broker._base import Delivery, Subscription
    from interlink.broker._dedupe import DedupeStore

__all__ = ["Consumer"]

log = logging.getLogger("interlink")

_FIRST_FAILURES = 10_000
"""How many first-failure times a consumer remembers (for dead-letter headers)."""
_HEARTBEAT = 10.0
"""While retrying in place, tell the broker we are still working this often (seconds)."""


class Consumer:
    """Pulls deliveries for one subscriber; at most ``max_in_flight`` are unsettled at once
    (those waiting in a key's lane included)."""

    def __init__(self, runtime: Runtime, subscriber: Subscriber[Any]) -> None:
        self._runtime = runtime
        self._sub = subscriber
        self._slots = asyncio.Semaphore(subscriber.max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._lanes: dict[str, deque[Delivery]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._dedupe: DedupeStore | None = None
        self._first_failure: OrderedDict[str, str] = OrderedDict()
        self.skipped_duplicates = 0

    async def start(self) -> None:
        sub = self._sub
        broker = self._runtime.broker
        if sub.dedupe is not None:
            self._dedupe = sub.dedupe.make_store()
            await self._dedupe.open(broker, f"{sub.group}.{sub.topic}", sub.dedupe.seconds)
        self._subscription = await broker.subscribe(
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
        if self._dedupe is not None:
            await self._dedupe.close()

    async def _read(self, subscription: Subscription) -> None:
        while True:
            await self._slots.acquire()
            try:
                delivery = await anext(subscription)
            except StopAsyncIteration:
                self._slots.release()
                return
            key = delivery.key
            if key is None:
                self._spawn(self._one(delivery))
            elif key in self._lanes:
                self._lanes[key].append(delivery)
            else:
                self._lanes[key] = deque()
                self._spawn(self._lane(key, delivery))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _one(self, delivery: Delivery) -> None:
        try:
            await self._settle(delivery, in_place=False)
        finally:
            self._slots.release()

    async def _lane(self, key: str, delivery: Delivery) -> None:
        waiting = self._lanes[key]
        try:
            while True:
                try:
                    await self._settle(delivery, in_place=True)
                finally:
                    self._slots.release()
                if not waiting:
                    return
                delivery = waiting.popleft()
        finally:
            del self._lanes[key]
            while waiting:  # cancelled at shutdown: hand the rest back
                with contextlib.suppress(InterlinkError, OSError):
                    await waiting.popleft().nack()
                self._slots.release()

    async def _settle(self, delivery: Delivery, *, in_place: bool) -> None:
        sub = self._sub
        try:
            envelope = Envelope.from_bytes(delivery.body)
            message = sub.message.decode(bytes(envelope.data))
        except CodecError as exc:
            await self._dead_letter(delivery, exc, None, delivery.attempt)
            return
        if self._dedupe is not None and await self._dedupe.seen(envelope.id):
            self.skipped_duplicates += 1
            await delivery.ack()
            return
        attempt, previous = delivery.attempt, None
        while True:
            try:
                payload = await self._handle(envelope, message, delivery)
            except asyncio.CancelledError:
                await delivery.nack()
                raise
            except Exception as exc:
                retry = sub.retry
                if attempt >= retry.attempts or not retry.allows(exc):
                    await self._dead_letter(delivery, exc, envelope, attempt)
                    return
                delay = retry.delay_before(attempt, previous, exc)
                self._note_failure(envelope, attempt, exc)
                if not in_place:
                    await delivery.nack(delay)
                    return
                await self._pause(delivery, delay)
                attempt, previous = attempt + 1, delay
                continue
            break
        self._first_failure.pop(envelope.id, None)
        if self._dedupe is not None:
            await self._dedupe.remember(envelope.id)
        if payload is not None:
            await self._reply(delivery, envelope, 200, payload)
        await delivery.ack()

    async def _handle(self, envelope: Envelope, message: Any, delivery: Delivery) -> bytes | None:
        sub = self._sub
        replying = H.REPLY_TO in delivery.headers
        deadline = envelope.deadline_at if replying else None
        ctx = self._runtime.handler_context(sub.service, envelope, deadline)
        try:
            if deadline is None:  # the common case: no timeout scope to enter and leave
                result = await self._call(message, ctx)
            else:
                async with self._runtime.time_limit(deadline):
                    result = await self._call(message, ctx)
            payload = None
            if replying:
                payload = b"null" if sub.response is None else sub.response.encode(result)
            await ctx.flush()
        except BaseException:
            ctx.discard()
            raise
        return payload

    def _call(self, message: Any, ctx: Context) -> Awaitable[Any]:
        sub = self._sub
        return sub.fn(message) if sub.context_param is None else sub.fn(message, ctx)

    def _note_failure(self, envelope: Envelope, attempt: int, exc: Exception) -> None:
        log.info("%s failed on %s (attempt %d): %r", self._sub.name, envelope.id, attempt, exc)
        self._first_failure.setdefault(envelope.id, format_time(self._runtime.clock.time()))
        while len(self._first_failure) > _FIRST_FAILURES:
            self._first_failure.popitem(last=False)

    async def _pause(self, delivery: Delivery, delay: float) -> None:
        """Sleep before an in-place retry, keeping the broker from redelivering meanwhile."""
        clock = self._runtime.clock
        while delay > 0:
            await delivery.in_progress()
            step = min(delay, _HEARTBEAT)
            await clock.sleep(step)
            delay -= step

    async def _reply(
        self, delivery: Delivery, envelope: Envelope, status: int, body: bytes
    ) -> None:
        address = delivery.headers.get(H.REPLY_TO)
        if address is None:
            return
        headers = {H.REQUEST_ID: envelope.id, H.STATUS: str(status)}
        with contextlib.suppress(InterlinkError, OSError):
            await self._runtime.broker.send_reply(address, body, headers)

    async def _dead_letter(
        self, delivery: Delivery, exc: Exception, envelope: Envelope | None, attempts: int
    ) -> None:
        sub = self._sub
        now = format_time(self._runtime.clock.time())
        first = self._first_failure.pop(envelope.id, now) if envelope is not None else now
        log.warning(
            "%s dead-letters a message from %s after %d attempt(s): %r",
            sub.name,
            delivery.topic,
            attempts,
            exc,
        )
        headers = {k: v for k, v in delivery.headers.items() if k != H.REPLY_TO}
        headers.update(
            {
                H.ERROR_TYPE: type(exc).__name__,
                H.ERROR_MESSAGE: str(exc)[:2000],
                H.ATTEMPTS: str(attempts),
                H.ORIGINAL_TOPIC: delivery.topic,
                H.GROUP: sub.group,
                H.FIRST_FAILURE: first,
                H.LAST_FAILURE: now,
            }
        )
        try:
            await self._runtime.broker.publish(
                sub.dead_letter_topic, delivery.body, key=delivery.key, headers=headers
            )
        except InterlinkError:
            log.exception("could not dead-letter a message from %s; returning it", delivery.topic)
            await delivery.nack(sub.retry.delay_before(attempts, None, None))
            return
        if envelope is not None:
            status, type_name, message = classify_failure(exc, sub.name, envelope.id)
            error = error_outcome(
                status,
                type_name,
                message,
                service=sub.service,
                method=sub.topic,
                correlation_id=envelope.correlationid or "",
            )
            await self._reply(delivery, envelope, error.status, error.body)
        await delivery.term()
