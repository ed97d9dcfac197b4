"""``Choreography``: a chain of events, correlated by correlation id, tracked as a saga.

Nobody orchestrates a choreographed flow: each service reacts to the last event. The tracker
only watches. The start event opens a process (one saga row, keyed by the correlation id); each
expected event marks its step done; when all have arrived it is COMPLETED. A failure event (one
of ``failed``) or the deadline passing first ends it: the compensating events of the steps that
did happen are written to the outbox, in reverse order, in the same transaction that marks the
process COMPENSATED. The rows have the
orchestrated sagas' shape, so ``interlink sagas list --table …`` and ``show`` work on them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Self

import msgspec

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink._envelope import Envelope, format_time, new_id
from interlink._errors import DefinitionError
from interlink.resilience._config import Seconds, seconds
from interlink.saga._errors import OwnershipLost, ProcessNotStarted
from interlink.saga._state import Attempt, SagaState, SagaStatus, StepStatus, decode_state
from interlink.saga._store import SagaRow, SagaStore, store_for

if TYPE_CHECKING:
    from interlink.messaging.inbox import Database

__all__ = ["Choreography"]

log = logging.getLogger("interlink.saga")


class Choreography:
    """``Choreography("order-flow", store=db, start="orders.placed",
    expect=["payment.charged", "shipment.created"], failed=["payment.declined"], deadline=60,
    compensate={"payment.charged": "payment.refund"})``.

    Feed it every event of the flow with :meth:`observe` (from the subscribers of those topics);
    run it (``async with tracker:``) so that expired processes are compensated. An App given
    ``choreographies=[tracker]`` does both: it subscribes the tracker to its :attr:`topics`.
    """

    def __init__(
        self,
        name: str,
        *,
        store: Database,
        start: str,
        expect: Sequence[str],
        deadline: Seconds,
        failed: Sequence[str] = (),
        compensate: Mapping[str, str] | None = None,
        table: str = "interlink_choreographies",
        clock: Clock = SYSTEM_CLOCK,
        poll: Seconds = 1.0,
    ) -> None:
        self.name, self.start, self.expect = name, start, tuple(expect)
        self.failed = tuple(failed)
        if set(self.failed) & {start, *self.expect}:
            raise DefinitionError(f"choreography {name!r}: a failure event cannot be expected")
        self.deadline = seconds(deadline, "deadline", positive=True)
        self.compensate = dict(compensate or {})
        self.database, self.clock = store, clock
        self.store: SagaStore = store_for(store, table=table)
        self._poll = seconds(poll, "poll", positive=True)
        self._loop: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self.store.setup()
        self._loop = asyncio.create_task(self._expiring(), name=f"choreography:{self.name}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            await asyncio.wait({loop})

    @property
    def topics(self) -> tuple[str, ...]:
        """Every topic the tracker observes: the start, the expected and the failure events."""
        return (self.start, *self.expect, *self.failed)

    async def status(self, correlation: str) -> SagaStatus | None:
        """The status of the process with this correlation id (None: no such process)."""
        row = await self.store.find(self.name, correlation)
        return None if row is None else SagaStatus(row.status)

    async def observe(self, envelope: Envelope, *, topic: str) -> str | None:
        """Record an event of the flow; returns the process id (None: not part of a process)."""
        correlation = envelope.correlationid
        if correlation is None or topic not in self.topics:
            return None
        if topic == self.start:
            return await self._open(correlation, envelope)
        for _ in range(10):  # a concurrent write moved the version on: read and apply again
            try:
                if topic in self.failed:
                    return await self._failed(correlation, topic, envelope)
                return await self._arrived(correlation, topic, envelope)
            except OwnershipLost:
                continue
        raise OwnershipLost(f"{self.name}: process {correlation} kept changing")

    async def expire(self) -> int:
        """Compensate every open process past its deadline; returns how many."""
        done = 0
        now = self.clock.time()
        for saga_id in await self.store.due(now=now, owner="", limit=100):
            row = await self.store.get(saga_id)
            if row is not None and row.name == self.name and row.status == SagaStatus.RUNNING:
                try:
                    await self._timed_out(row, now)
                    done += 1
                except OwnershipLost:
                    continue  # an event arrived meanwhile; the next round looks again
        return done

    async def _open(self, correlation: str, envelope: Envelope) -> str:
        now = self.clock.time()
        state = SagaState(data=envelope.data, cursor=self.expect[0] if self.expect else None)
        state.step(self.start).status = StepStatus.DONE
        state.step(self.start).history.append(_seen(envelope, now))
        for topic in self.expect:
            state.step(topic)
        row = SagaRow(
            id=new_id(),
            name=self.name,
            key=correlation,
            status=str(SagaStatus.RUNNING),
            version=1,
            owner=None,
            lease_until=now + self.deadline,
            state=msgspec.json.encode(state),
            created_at=now,
            updated_at=now,
        )
        return await self.store.insert(row)

    async def _arrived(self, correlation: str, topic: str, envelope: Envelope) -> str | None:
        row = await self._row(correlation, topic)
        state = decode_state(row.state, saga=self.name)
        step = state.step(topic)
        if row.status == SagaStatus.COMPENSATED and step.status != StepStatus.DONE:
            await self._undo_late(row, state, topic, envelope)
            return row.id
        if row.status != SagaStatus.RUNNING or step.status == StepStatus.DONE:
            return row.id  # a duplicate, or late after the process ended
        now = self.clock.time()
        step.status, step.attempts = StepStatus.DONE, step.attempts + 1
        step.history.append(_seen(envelope, now))
        waiting = [t for t in self.expect if state.step(t).status != StepStatus.DONE]
        state.cursor = waiting[0] if waiting else None
        status = SagaStatus.RUNNING if waiting else SagaStatus.COMPLETED
        await self._write(row, state, status, now)
        return row.id

    async def _failed(self, correlation: str, topic: str, envelope: Envelope) -> str | None:
        row = await self._row(correlation, topic)
        if row.status != SagaStatus.RUNNING:
            return row.id  # late, or a duplicate of the failure
        now = self.clock.time()
        state = decode_state(row.state, saga=self.name)
        step = state.step(topic)
        step.status, step.attempts = StepStatus.FAILED, step.attempts + 1
        step.history.append(_seen(envelope, now))
        await self._compensate(row, state, f"{topic} arrived", now)
        return row.id

    async def _timed_out(self, row: SagaRow, now: float) -> None:
        state = decode_state(row.state, saga=self.name)
        missing = [t for t in self.expect if state.step(t).status != StepStatus.DONE]
        await self._compensate(row, state, f"deadline passed waiting for {', '.join(missing)}", now)

    async def _compensate(self, row: SagaRow, state: SagaState, error: str, now: float) -> None:
        state.error = error
        events = []
        for topic in reversed((self.start, *self.expect)):
            step = state.step(topic)
            undo = self.compensate.get(topic)
            if step.status == StepStatus.DONE and undo is not None:
                events.append((undo, self._event(row, topic, undo, state, now)))
                step.compensation = StepStatus.DONE
        await self._write(row, state, SagaStatus.COMPENSATED, now, events)

    async def _undo_late(
        self, row: SagaRow, state: SagaState, topic: str, envelope: Envelope
    ) -> None:
        """A step that happened after its process was compensated (its event was slower than
        the failure or the deadline) is compensated as it arrives; one without a compensating
        event is ignored."""
        undo = self.compensate.get(topic)
        if undo is None:
            return
        now = self.clock.time()
        step = state.step(topic)
        step.status, step.attempts = StepStatus.DONE, step.attempts + 1
        step.history.append(_seen(envelope, now))
        step.compensation = StepStatus.DONE
        events = [(undo, self._event(row, topic, undo, state, now))]
        await self._write(row, state, SagaStatus.COMPENSATED, now, events)

    def _event(self, row: SagaRow, step: str, topic: str, state: SagaState, now: float) -> Envelope:
        return Envelope(
            id=f"{row.id}:{step}:compensate",
            source=f"/{self.name}",
            type=topic,
            specversion="1.0",
            time=format_time(now),
            correlationid=row.key,
            data=state.data,
        )

    async def _write(
        self,
        row: SagaRow,
        state: SagaState,
        status: SagaStatus,
        now: float,
        events: Sequence[tuple[str, Envelope]] = (),
    ) -> None:
        new = row.evolve(
            status=str(status),
            version=row.version + 1,
            state=msgspec.json.encode(state),
            updated_at=now,
        )
        await self.store.update(new, expected=row.version, events=events)

    async def _row(self, correlation: str, topic: str) -> SagaRow:
        row = await self.store.find(self.name, correlation)
        if row is None:
            raise ProcessNotStarted(
                f"{self.name}: {topic} for {correlation!r} came before {self.start}"
            )
        return row

    async def _expiring(self) -> None:
        while True:
            await self.clock.sleep(self._poll)
            try:
                await self.expire()
            except Exception:
                log.exception("%s: expiring processes failed", self.name)


def _seen(envelope: Envelope, now: float) -> Attempt:
    return Attempt(kind=f"event {envelope.id}", number=1, started_at=now, ended_at=now)
