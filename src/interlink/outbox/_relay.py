"""``OutboxRelay``: publish committed outbox rows to a broker, oldest first, until stopped.

Invariant: a row is marked sent only after ``broker.publish`` returned for it, and it is always
published with ``message_id=row.id``. A crash between the two leaves the row unsent; the next
round publishes it again and the broker drops the copy as a duplicate (within its window).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Self

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.broker._base import Broker
from interlink.outbox._base import Claim, Outbox
from interlink.resilience._backoff import Backoff
from interlink.resilience._config import Seconds, seconds

__all__ = ["OutboxRelay"]

log = logging.getLogger("interlink.outbox")

_DEFAULT_BACKOFF = Backoff.exponential(initial=0.1, max_delay=30.0, jitter="full")


class OutboxRelay:
    """A background task that moves outbox rows to the broker.

    ::

        async with OutboxRelay(outbox, broker):
            ...                      # serve; call relay.wake() after a commit for low latency

    Each round claims up to ``batch`` unsent rows, oldest first, and publishes them in order.
    When a round finds less than a full batch the relay waits ``interval`` (or until
    :meth:`wake`, or a ``NOTIFY`` where the outbox supports it). When the broker or the
    database fails, the round stops at the failing row, records the error on it, and the relay
    waits ``backoff(n)`` after the n-th consecutive failure (wakes do not cut that wait short).
    Leaving the ``async with`` finishes the batch in flight; after ``drain_timeout`` it is
    cancelled instead (its rows stay unsent and are published again later).
    """

    def __init__(
        self,
        outbox: Outbox[Any],
        broker: Broker,
        *,
        batch: int = 100,
        interval: Seconds = 0.5,
        backoff: Backoff = _DEFAULT_BACKOFF,
        drain_timeout: Seconds = 10.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch!r}")
        self.outbox = outbox
        self.broker = broker
        self._batch = batch
        self._interval = seconds(interval, "interval", positive=True)
        self._backoff = backoff
        self._drain_timeout = seconds(drain_timeout, "drain_timeout")
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._interrupt = asyncio.Event()
        self._woken = False
        self._backing_off = False
        self._stopping = False
        self.published = 0
        """Rows published (and marked sent) by this relay."""
        self.failures = 0
        """Rounds that ended in an error."""

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
        """Publish one batch: (rows published, whether the round failed)."""
        try:
            async with self.outbox.claim(self._batch) as claim:
                count = await self._publish(claim)
                failed = count < len(claim.rows)
        except Exception as exc:  # the database is down or the table is gone: retry later
            log.warning("outbox %s: relay round failed: %r", self.outbox.table, exc)
            count, failed = 0, True
        self.failures += failed
        return count, failed

    async def _publish(self, claim: Claim) -> int:
        for done, row in enumerate(claim.rows):
            try:
                await self.broker.publish(row.topic, row.body, key=row.key, message_id=row.id)
            except Exception as exc:
                log.warning(
                    "outbox %s: publishing %s to %r failed (attempt %d): %r",
                    self.outbox.table,
                    row.id,
                    row.topic,
                    row.attempts + 1,
                    exc,
                )
                await claim.mark_failed(row, repr(exc))
                return done
            await claim.mark_sent(row)
            self.published += 1
        return len(claim.rows)

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
