"""``OutboxRelay``: publish committed outbox rows to a broker, oldest first, until stopped.

Invariant: a row is marked sent only after ``broker.publish`` returned for it, and it is always
published with ``message_id=row.id``. A crash between the two leaves the row unsent; the next
round publishes it again and the broker drops the copy as a duplicate (within its window).

Invariant: a row is parked only when the broker accepted another row earlier in the same
round; a broker that refuses everything (an outage) parks nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol, Self

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.broker._base import Broker
from interlink.outbox._base import Claim, Outbox, OutboxRow
from interlink.resilience._backoff import Backoff
from interlink.resilience._config import Seconds, seconds

__all__ = ["OutboxRelay", "SendObserver"]

log = logging.getLogger("interlink.outbox")

_DEFAULT_BACKOFF = Backoff.exponential(initial=0.1, max_delay=30.0, jitter="full")


class SendObserver(Protocol):
    def finish(self, error: BaseException | None) -> None:
        """The publish returned (``error``: it raised)."""
        ...


class OutboxRelay:
    """A background task that moves outbox rows to the broker.

    ::

        async with OutboxRelay(outbox, broker):
            ...                      # serve; call relay.wake() after a commit for low latency

    Each round claims up to ``batch`` rows and publishes them in order: rows never tried first,
    oldest first, then rows that failed before. When a round finds less than a full batch the
    relay waits ``interval`` (or until :meth:`wake`, or a ``NOTIFY`` where the outbox supports
    it). A row that fails is kept, with its error, for a later round; the rows after it go on,
    except later rows of its key, which wait for it. If the first row a round tries fails, the
    round stops there (that looks like the broker, not the row). After a round with a failure
    the relay waits ``backoff(n)`` (the n-th such round in a row; wakes do not cut it short).
    A row that has failed ``max_attempts`` times is *parked* when it fails in a round in which
    the broker accepted an earlier row: set aside until ``outbox.unpark()``, and still holding
    back the later rows of its key. Leaving the ``async with`` finishes the batch in flight;
    after ``drain_timeout`` it is cancelled instead (its rows stay unsent and are published
    again later).
    """

    def __init__(
        self,
        outbox: Outbox[Any],
        broker: Broker,
        *,
        batch: int = 100,
        interval: Seconds = 0.5,
        backoff: Backoff = _DEFAULT_BACKOFF,
        max_attempts: int = 10,
        drain_timeout: Seconds = 10.0,
        clock: Clock = SYSTEM_CLOCK,
        observer: Callable[[str, bytes], SendObserver | None] | None = None,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch!r}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts!r}")
        self.outbox = outbox
        self.broker = broker
        self._batch = batch
        self._interval = seconds(interval, "interval", positive=True)
        self._backoff = backoff
        self._max_attempts = max_attempts
        self._drain_timeout = seconds(drain_timeout, "drain_timeout")
        self._clock = clock
        self._observer = observer
        """Told of each publish (topic, body) before it starts (tracing records it)."""
        self._task: asyncio.Task[None] | None = None
        self._interrupt = asyncio.Event()
        self._woken = False
        self._backing_off = False
        self._stopping = False
        self.published = 0
        """Rows published (and marked sent) by this relay."""
        self.failures = 0
        """Rounds in which a publish (or the database) failed."""
        self.parked = 0
        """Rows this relay parked."""

    def wake(self) -> None:
        """Look for new rows now rather than at the next poll (call it after a commit)."""
        self._woken = True
        if not self._backing_off:
            self._interrupt.set()

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError("this OutboxRelay is already running")
        self._stopping = self._backing_off = False
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay:{self.outbox.table}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Finish the batch in flight (at most ``drain_timeout``) and stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._interrupt.set()
        try:
            await self._wait(task, self._drain_timeout)
        finally:
            if not task.done():  # it did not drain in time, or stop() itself was cancelled
                log.warning("outbox %s: relay cancelled before it drained", self.outbox.table)
                task.cancel()
                await asyncio.wait({task})
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error

    async def _wait(self, task: asyncio.Task[None], timeout: float) -> None:
        """Wait for ``task`` to end, or for ``timeout`` to pass on the relay's clock."""
        timer = asyncio.ensure_future(self._clock.sleep(timeout))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            await asyncio.wait({timer})

    async def _run(self) -> None:
        async with self.outbox.notifications(self.wake):
            streak = 0
            while not self._stopping:
                self._woken = False
                count, failed = await self._round()
                streak = streak + 1 if failed else 0
                self._backing_off = failed
                if failed:
                    await self._pause(self._backoff(streak))
                elif count < self._batch:
                    await self._pause(self._interval)

    async def _round(self) -> tuple[int, bool]:
        """Publish one batch: (rows published, whether anything failed)."""
        try:
            async with self.outbox.claim(self._batch) as claim:
                count, failed = await self._publish(claim)
        except Exception as exc:  # the database is down or the table is gone: retry later
            log.warning("outbox %s: relay round failed: %r", self.outbox.table, exc)
            count, failed = 0, True
        self.failures += failed
        return count, failed

    async def _publish(self, claim: Claim) -> tuple[int, bool]:
        published, failed = 0, False
        failing: set[str] = set()  # keys with a row that failed in this round
        for row in claim.rows:
            if row.key in failing:
                continue  # it must not overtake the older row of its key
            if await self._published(claim, row, broker_works=published > 0):
                published += 1
                continue
            failed = True
            if not published:
                break  # the first row tried failed: more likely the broker than the row
            if row.key is not None:
                failing.add(row.key)
        return published, failed

    async def _published(self, claim: Claim, row: OutboxRow, *, broker_works: bool) -> bool:
        """Publish ``row`` and mark it; False when the broker refused it."""
        sending = None if self._observer is None else self._observer(row.topic, row.body)
        try:
            await self.broker.publish(row.topic, row.body, key=row.key, message_id=row.id)
        except BaseException as exc:
            if sending is not None:
                sending.finish(exc)
            if not isinstance(exc, Exception):
                raise
            await self._failed(claim, row, repr(exc), broker_works=broker_works)
            return False
        if sending is not None:
            sending.finish(None)
        await claim.mark_sent(row)
        self.published += 1
        return True

    async def _failed(
        self, claim: Claim, row: OutboxRow, error: str, *, broker_works: bool
    ) -> None:
        attempt = row.attempts + 1
        park = broker_works and attempt >= self._max_attempts
        log.log(
            logging.ERROR if park else logging.WARNING,
            "outbox %s: publishing %s to %r failed (attempt %d%s): %s",
            *(self.outbox.table, row.id, row.topic, attempt, ", parked" if park else "", error),
        )
        if park:
            await claim.mark_parked(row, error)
            self.parked += 1
        else:
            await claim.mark_failed(row, error)

    async def _pause(self, delay: float) -> None:
        if self._stopping or (self._woken and not self._backing_off):
            return
        self._interrupt.clear()
        sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        sleeper.add_done_callback(lambda _: self._interrupt.set())
        try:
            await self._interrupt.wait()
        finally:
            sleeper.cancel()
            await asyncio.wait({sleeper})

    def __repr__(self) -> str:
        state = "running" if self._task is not None else "stopped"
        return f"<OutboxRelay {self.outbox!r} {state} published={self.published}>"
