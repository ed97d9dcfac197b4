"""The consumer runtime: one per subscription, the same above every broker.

decode ▸ lane (messages of one key one at a time, in order) ▸ claim (dedupe) ▸ handler ▸ held-back
events ▸ reply ▸ ack. A failing attempt is retried in place per the subscription's ``Retry``,
so the retry counts real handler runs and the next message of its key cannot overtake it; when
the attempts run out, or the error is not one to retry, the message goes to the dead-letter
topic with the reason. A message that cannot be decoded goes there at once, and so does one
that keeps coming back without ever finishing (it crashed its consumer ``max_redeliveries``
times: a poison pill). A non-durable subscription (``durable=False``) takes requests from the
backend's direct path instead of a stream: the same steps, but nothing is settled with the
broker, a request whose caller's deadline has passed is dropped unrun, and a failure is
answered to the caller without a dead letter.

Invariant: every delivery this consumer takes is settled exactly once — acked, terminated
after a dead letter, or handed back with ``nack`` — whatever raises, including cancellation.
While it holds a delivery (running, waiting in its lane, pausing between retries) it tells the
broker every ``heartbeat`` seconds that the work is in progress, so the broker does not hand a
copy to someone else; a copy that comes back here anyway joins the running one and is settled
with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from interlink._envelope import Envelope, format_time
from interlink._errors import CodecError, ConfigurationError, InterlinkError, ValidationFailed
from interlink._replies import reply_event
from interlink._wire import classify_failure, error_outcome
from interlink.broker import DirectRequests
from interlink.messaging import _headers as H
from interlink.messaging._dedupe import Claim

if TYPE_CHECKING:
    from collections.abc import Callable

    from interlink._clock import Clock
    from interlink._dispatch import Dispatcher
    from interlink._handlers import Subscriber
    from interlink.broker import Broker, Delivery, Subscription
    from interlink.messaging._dedupe import DedupeStore
    from interlink.messaging._observer import DeliveryObserver

__all__ = ["AlreadyProcessed", "Consumer", "PoisonMessage"]

log = logging.getLogger("interlink")

_BUSY_POLL = 0.5
"""Seconds between looks at an id another member holds a claim on."""
_RETURN_DELAY = 1.0
"""Delay before the broker offers again a message that failed outside its handler."""


class PoisonMessage(InterlinkError):
    """A message came back more often than ``max_redeliveries`` without ever finishing."""


class AlreadyProcessed(InterlinkError):
    """The inbox holds this message id already: its effects are committed; skip it."""


class Consumer:
    """Pulls deliveries for one subscriber; at most ``max_in_flight`` are held at once (those
    waiting in a key's lane or joined to a running copy included)."""

    def __init__(
        self,
        broker: Broker,
        subscriber: Subscriber[Any],
        dispatcher: Dispatcher,
        *,
        clock: Clock,
        on_dead_letter: Callable[[Envelope | None, Exception], None] | None = None,
        observer: DeliveryObserver | None = None,
    ) -> None:
        self._broker = broker
        self._on_dead_letter = on_dead_letter
        """Told of each dead letter before it is written (tracing records it)."""
        self._observer = observer
        """Told of each delivery taken and settled (tracing records it); None: nothing is."""
        self._decoded: dict[Delivery, Envelope] = {}
        """With an observer: the envelope of each held delivery, until it is settled."""
        self._sub = subscriber
        self._dispatcher = dispatcher
        self._clock = clock
        self._scope = subscriber.scope
        self._slots = asyncio.Semaphore(subscriber.max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: set[Delivery] = set()
        self._work: dict[str, list[Delivery]] = {}
        """envelope id -> deliveries of it held here (the first is being worked on)"""
        self._lanes: dict[str, deque[asyncio.Future[None]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._dedupe: DedupeStore | None = None
        self.skipped_duplicates = 0
        self.joined_copies = 0
        self.settle_errors = 0
        self.expired_requests = 0
        self.redelivered = 0
        """Deliveries received that the broker had delivered before (``attempt > 1``)."""

    @property
    def subscriber(self) -> Subscriber[Any]:
        return self._sub

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        sub = self._sub
        if sub.dedupe is not None:
            store = sub.dedupe.make_store()
            await store.open(self._broker)
            self._dedupe = store
        self._subscription = await self._open(sub)
        self._reader = asyncio.create_task(
            self._read(self._subscription), name=f"consume {sub.topic}"
        )
        heartbeat = self._subscription.heartbeat
        if heartbeat:
            self._ticker = asyncio.create_task(self._tick(heartbeat), name=f"heartbeat {sub.topic}")

    async def _open(self, sub: Subscriber[Any]) -> Subscription:
        if sub.durable:
            # Passed only when set: a broker written before the keyword serves groups from new.
            start = {} if sub.start_from == "new" else {"start_from": sub.start_from}
            return await self._broker.subscribe(
                sub.topic, group=sub.group, max_in_flight=sub.max_in_flight, **start
            )
        if not isinstance(self._broker, DirectRequests):
            raise ConfigurationError(
                f"{sub.name}: {self._broker.url.split('://')[0]} has no non-durable "
                "request/reply; subscribe with durable=True"
            )
        return await self._broker.serve_requests(sub.topic, max_in_flight=sub.max_in_flight)

    async def stop(self, deadline: float) -> None:
        """Stop taking deliveries, let held ones finish until ``deadline`` (event loop time),
        then cancel them: cancelled work hands its deliveries back to the broker."""
        if self._subscription is not None:
            await self._subscription.close()
        loop = asyncio.get_running_loop()
        reader = self._reader
        if reader is not None:
            # It ends at the close, or (every slot taken) once a slot frees; at the latest at
            # the deadline, so neither full slots nor a backend that misses the close hold on.
            await asyncio.wait({reader}, timeout=max(0.0, deadline - loop.time()))
            if not reader.done():
                reader.cancel()
                await asyncio.wait({reader})
        if self._tasks:
            timeout = max(0.0, deadline - loop.time())
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.wait({self._ticker})
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
            self._held.add(delivery)
            self.redelivered += delivery.attempt > 1
            task = asyncio.create_task(self._receive(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _tick(self, every: float) -> None:
        """Tell the broker about everything held here, so it redelivers none of it."""
        while True:
            await self._clock.sleep(every)
            for delivery in list(self._held):
                try:
                    await delivery.in_progress()
                except Exception as exc:  # the next tick tries again; ack_wait is 3 ticks
                    log.debug("in-progress signal failed on %s: %r", self._sub.topic, exc)

    # -- one delivery ----------------------------------------------------------------------------

    async def _receive(self, delivery: Delivery) -> None:
        held = [delivery]
        try:
            await self._process(delivery, held)
        except asyncio.CancelledError:
            await self._give_back(held, 0.0)
            raise
        except Exception as exc:  # outside the handler: a store, the broker, a bug here
            log.warning(
                "%s could not settle a message from %s (%r); returning it",
                self._sub.name,
                delivery.topic,
                exc,
            )
            await self._give_back(held, _RETURN_DELAY)
        finally:
            await self._give_back(held, _RETURN_DELAY)  # no-op unless something was missed

    async def _process(self, delivery: Delivery, held: list[Delivery]) -> None:
        sub = self._sub
        envelope = None
        observer = self._observer
        started = 0 if observer is None else time.time_ns()
        try:
            envelope = Envelope.from_bytes(delivery.body)
            if observer is not None:
                self._decoded[delivery] = envelope
                observer.received(envelope, started, delivery.attempt)
            message = sub.message.decode(bytes(envelope.data))
        except CodecError as exc:
            if observer is not None and envelope is None:
                observer.received(None, started, delivery.attempt)
            # A non-durable requester is told at once (a durable one waits for its timeout).
            await self._dead_letter(held, exc, None if sub.durable else envelope, runs=0)
            return
        replay_group = delivery.headers.get(H.REPLAY_GROUP)
        if replay_group is not None and replay_group != sub.group:
            await self._settle(held, "ack")  # replayed for another group only
            return
        if not sub.durable and self._expired(envelope):
            self.expired_requests += 1  # its caller gave up: a reply would reach nobody
            await self._settle(held, "ack")
            return
        running = self._work.get(envelope.id)
        if running is not None:  # a redelivery or a copy of what is already here
            running.append(delivery)
            held.clear()
            self.joined_copies += 1
            return
        self._work[envelope.id] = held
        try:
            await self._run(delivery, held, envelope, message)
        finally:
            del self._work[envelope.id]

    def _expired(self, envelope: Envelope) -> bool:
        try:
            deadline = envelope.deadline_at
        except CodecError:  # the handler's run reports it to the caller
            return False
        return deadline is not None and deadline <= self._clock.time()

    async def _run(
        self, delivery: Delivery, held: list[Delivery], envelope: Envelope, message: Any
    ) -> None:
        sub = self._sub
        if delivery.attempt > 1 + sub.max_redeliveries:
            poison = PoisonMessage(
                f"delivered {delivery.attempt} times without finishing (its consumer crashed "
                "or lost it each time)"
            )
            await self._dead_letter(held, poison, envelope, runs=0)
            return
        key = delivery.key
        if key is None:
            await self._attempts(held, envelope, message)
            return
        await self._lane_turn(key)
        try:
            await self._attempts(held, envelope, message)
        finally:
            self._lane_done(key)

    async def _attempts(self, held: list[Delivery], envelope: Envelope, message: Any) -> None:
        retry = self._sub.retry
        runs, previous = 0, None
        first_failure: str | None = None
        while True:
            runs += 1
            try:
                reply = await self._attempt(held[0], envelope, message)
            except AlreadyProcessed:
                self.skipped_duplicates += 1
                await self._settle(held, "ack")
                return
            except Exception as exc:
                first_failure = first_failure or format_time(self._clock.time())
                if runs >= retry.attempts or not retry.allows(exc):
                    await self._dead_letter(held, exc, envelope, runs, first_failure)
                    return
                delay = retry.delay_before(runs, previous, exc)
                log.info("%s failed on %s (run %d): %r", self._sub.name, envelope.id, runs, exc)
                await self._clock.sleep(delay)
                previous = delay
                continue
            if reply is not None:
                await self._reply(held[0], envelope, 200, reply)
            await self._settle(held, "ack")
            return

    async def _attempt(self, delivery: Delivery, envelope: Envelope, message: Any) -> bytes | None:
        """One run: claim, handler, remember. Returns the reply to send, if any."""
        inbox = self._sub.inbox
        # A redelivery may have committed before its ack was lost: skip it without running.
        if (
            inbox is not None
            and delivery.attempt > 1
            and await inbox.processed(self._scope, envelope.id)
        ):
            raise AlreadyProcessed(envelope.id)
        dedupe, store = self._sub.dedupe, self._dedupe
        if dedupe is None or store is None:
            return await self._handle(delivery, envelope, message)
        while True:
            claim = await store.claim(self._scope, envelope.id, lease=dedupe.lease_seconds)
            if claim is Claim.CLAIMED:
                break
            if claim is Claim.DONE:
                self.skipped_duplicates += 1
                return None
            await self._clock.sleep(_BUSY_POLL)  # another member runs it right now
        try:
            reply = await self._handle(delivery, envelope, message)
        except BaseException:
            with contextlib.suppress(Exception):
                await store.release(self._scope, envelope.id)
            raise
        try:
            await store.remember(self._scope, envelope.id, window=dedupe.seconds)
        except Exception as exc:  # done is done: acking beats running the effect twice
            log.warning("%s: could not remember %s as done: %r", self._sub.name, envelope.id, exc)
        return reply

    async def _handle(self, delivery: Delivery, envelope: Envelope, message: Any) -> bytes | None:
        replying = H.REPLY_TO in delivery.headers
        return await self._dispatcher.handle_delivery(
            self._sub, envelope, message, replying=replying
        )

    # -- key lanes ---------------------------------------------------------------------------------

    async def _lane_turn(self, key: str) -> None:
        """Wait until every earlier message of ``key`` taken here is settled."""
        lane = self._lanes.get(key)
        if lane is None:
            self._lanes[key] = deque()
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._lane_done(key)  # it was our turn: pass it on
            else:
                lane.remove(turn)
            raise

    def _lane_done(self, key: str) -> None:
        lane = self._lanes[key]
        while lane:
            turn = lane.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        del self._lanes[key]

    # -- settling --------------------------------------------------------------------------------

    async def _settle(self, held: list[Delivery], how: str, delay: float = 0.0) -> None:
        """ack / term / nack every delivery in ``held`` and free their slots, whatever fails.

        ``held`` is drained as it goes: a copy that joins while an earlier one is being
        settled (the list is the running work's) is settled the same way.
        """
        while held:
            delivery = held.pop(0)
            settling = None
            if self._observer is not None:
                envelope = self._decoded.pop(delivery, None)
                settling = self._observer.settling(envelope, how, delay)
            try:
                if how == "nack":
                    await delivery.nack(delay)
                elif how == "term":
                    await delivery.term()
                else:
                    await delivery.ack()
            except Exception as exc:  # the broker redelivers it after its ack wait
                self.settle_errors += 1
                log.warning("%s could not %s a message: %r", self._sub.name, how, exc)
                if settling is not None:
                    settling.finish(exc)
                    settling = None
            except BaseException as exc:  # cancelled while the broker answers
                if settling is not None:
                    settling.finish(exc)
                    settling = None
                raise
            finally:
                if settling is not None:
                    settling.finish(None)
                self._held.discard(delivery)
                self._slots.release()

    async def _give_back(self, held: list[Delivery], delay: float) -> None:
        if held:
            await self._settle(held, "nack", delay)

    async def _reply(
        self, delivery: Delivery, envelope: Envelope, status: int, body: bytes
    ) -> None:
        if envelope.replyto is not None and status != 200:
            await self._durable_error_reply(envelope.replyto, envelope, status, body)
        address = delivery.headers.get(H.REPLY_TO)
        if address is None:
            return
        if self._sub.durable:
            headers = {H.REQUEST_ID: envelope.id, H.STATUS: str(status)}
        else:  # the backend matches it; no header is a success (cheaper on every backend)
            headers = {} if status == 200 else {H.STATUS: str(status)}
        try:
            await self._broker.send_reply(address, body, headers)
        except Exception as exc:  # the requester times out; the event itself is done
            log.warning("%s could not reply to %s: %r", self._sub.name, envelope.id, exc)

    async def _durable_error_reply(
        self, topic: str, envelope: Envelope, status: int, body: bytes
    ) -> None:
        """A command that names a reply topic and failed is answered there with its error (a
        successful run's reply is an event the handler held back; see ``interlink._replies``)."""
        source, now = f"/{self._sub.service}", self._clock.time()
        event = reply_event(envelope, status, body, source=source, now=now)
        try:
            await self._broker.publish(topic, event.to_bytes(), message_id=event.id)
        except Exception as exc:  # the requester's own timeout covers it
            log.warning(
                "%s could not reply to %s on %s: %r", self._sub.name, envelope.id, topic, exc
            )

    async def _dead_letter(
        self,
        held: list[Delivery],
        exc: Exception,
        envelope: Envelope | None,
        runs: int,
        first_failure: str | None = None,
    ) -> None:
        sub, delivery = self._sub, held[0]
        now = format_time(self._clock.time())
        if self._on_dead_letter is not None:
            self._on_dead_letter(envelope, exc)
        log.warning(
            "%s dead-letters a message from %s after %d run(s), %d deliveries: %r",
            sub.name,
            delivery.topic,
            runs,
            delivery.attempt,
            exc,
        )
        headers = {k: v for k, v in delivery.headers.items() if k not in H.NOT_COPIED}
        headers.update(
            {
                H.ERROR_TYPE: type(exc).__name__,
                H.ERROR_MESSAGE: str(exc)[:2000],
                H.ATTEMPTS: str(runs),
                H.DELIVERIES: str(delivery.attempt),
                H.ORIGINAL_TOPIC: delivery.topic,
                H.GROUP: sub.group,
                H.FIRST_FAILURE: first_failure or now,
                H.LAST_FAILURE: now,
            }
        )
        # The same message dead-lettered again (a crash before the term below) is the same
        # broker message id: the broker drops the copy.
        message_id = H.dead_letter_id(
            sub.group,
            envelope.id if envelope else None,
            delivery.body,
            delivery.headers.get(H.REPLAY_ID),
        )
        if not sub.durable:  # a non-durable request: its caller gets the error, nothing is kept
            await self._answer_failure(delivery, exc, envelope)
            await self._settle(held, "term")
            return
        try:
            await self._broker.publish(
                sub.dead_letter_topic,
                delivery.body,
                key=delivery.key,
                headers=headers,
                message_id=message_id,
            )
        except Exception as error:
            log.error(
                "could not dead-letter a message from %s (%r); returning it", sub.topic, error
            )
            await self._give_back(held, sub.retry.delay_before(max(runs, 1), None, None))
            return
        await self._answer_failure(delivery, exc, envelope)
        await self._settle(held, "term")

    async def _answer_failure(
        self, delivery: Delivery, exc: Exception, envelope: Envelope | None
    ) -> None:
        """Tell a waiting requester why its request failed, instead of letting it time out."""
        if envelope is None:
            return
        sub = self._sub
        errors = None
        if isinstance(exc, ValidationFailed):  # as an RPC answers it: InvalidRequest
            status, type_name, message, errors = 422, "ValidationError", str(exc), exc.errors
        else:
            status, type_name, message = classify_failure(exc, sub.name, envelope.id)
        answer = error_outcome(
            status,
            type_name,
            message,
            service=sub.service,
            method=sub.topic,
            correlation_id=envelope.correlationid or "",
            errors=errors,
        )
        await self._reply(delivery, envelope, answer.status, answer.body)
