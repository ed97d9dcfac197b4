"""Drives one saga: its steps forward, or its compensations backward, to a final status.

Invariant (state before send): an attempt is committed as begun (step RUNNING, attempts + 1)
before its action runs, so a crash at any point leaves a row that says what may have been sent.
A step's DONE is committed with the next write (the next step's begin, or the final status),
before anything later is sent; a crash before that write re-sends the step with the same key.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.saga import _commands as commands
from interlink.saga._context import StepContext
from interlink.saga._errors import StepTimeout
from interlink.saga._saga import Saga, Step, StepKind
from interlink.saga._state import (
    Attempt,
    SagaState,
    SagaStatus,
    StepState,
    StepStatus,
    describe,
    encode_state,
)
from interlink.saga._store import Events, SagaRow, SagaStore

if TYPE_CHECKING:
    from interlink._context import Context
    from interlink.saga._commands import Replies
    from interlink.saga._saga import Action

__all__ = ["Runner", "StepObserver", "StepWatch"]

log = logging.getLogger("interlink.saga")


class StepWatch(Protocol):
    """Watches one attempt of a step (tracing makes it a span)."""

    @property
    def context(self) -> Context | None:
        """The App context the attempt's calls and events go out with, or None for the usual."""
        ...

    def finish(self, error: BaseException | None) -> None: ...


StepObserver = Callable[[str, str, str, str, int], StepWatch]
"""``(saga, saga_id, step, kind, attempt) -> StepWatch``, called as each attempt starts."""


class _Duplicate(Exception):
    def __init__(self, saga_id: str) -> None:
        self.saga_id = saga_id


class Runner:
    """One saga instance in the hands of one worker (``owner``)."""

    def __init__(
        self,
        saga: Saga[Any],
        store: SagaStore,
        row: SagaRow,
        *,
        fresh: bool,
        clock: Clock,
        lease: float,
        context: Context | None,
        replies: Replies,
        observer: StepObserver | None = None,
    ) -> None:
        self.saga, self.store, self.row = saga, store, row
        self.state = msgspec.json.decode(row.state, type=SagaState)
        self.data = saga.codec.decode(bytes(self.state.data))
        self.clock, self.lease, self.context = clock, lease, context
        self.replies = replies
        self.observer = observer
        self._fresh = fresh
        self._writing = asyncio.Lock()
        self.inserted: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        if not fresh:
            self.inserted.set_result(row.id)
        self.compensation: asyncio.Task[SagaStatus] | None = None

    # -- persistence -----------------------------------------------------------------------

    async def commit(
        self, *, status: SagaStatus | None = None, hold: float = 0.0, events: Events = ()
    ) -> None:
        """Write the state (with ``events`` as outbox rows, in the same transaction); the
        lease runs ``hold`` plus the engine's lease from now."""
        async with self._writing:
            now = self.clock.time()
            self.state.data = msgspec.Raw(self.saga.codec.encode(self.data))
            final = status is not None and not status.active
            row = self.row.evolve(
                status=str(status or self.row.status),
                version=self.row.version + (0 if self._fresh else 1),
                owner=None if final else self.row.owner,
                lease_until=now if final else now + hold + self.lease,
                state=encode_state(
                    self.state, limit=self.saga.max_state_bytes, saga=self.saga.name
                ),
                updated_at=now,
            )
            if self._fresh:
                stored = await self.store.insert(row, events)
                if stored != row.id:
                    raise _Duplicate(stored)
                self._fresh = False
                self.inserted.set_result(row.id)
            else:
                await self.store.update(row, expected=self.row.version, events=events)
            self.row = row

    # -- the whole run ---------------------------------------------------------------------

    async def run(self) -> SagaStatus:
        try:
            if self.row.status == SagaStatus.RUNNING and not await self._forward():
                return await asyncio.shield(self._compensate_task())
            if self.row.status == SagaStatus.COMPENSATING:
                return await asyncio.shield(self._compensate_task())
            if self.row.status == SagaStatus.RUNNING:
                await self.commit(status=SagaStatus.COMPLETED)
        except _Duplicate as dup:
            self.inserted.set_result(dup.saga_id)
            return SagaStatus(self.row.status)
        except BaseException as exc:
            if not self.inserted.done():
                self.inserted.set_exception(exc)
            raise
        return SagaStatus(self.row.status)

    def _compensate_task(self) -> asyncio.Task[SagaStatus]:
        # Invariant: compensation runs to its end even when the run is cancelled (shutdown, a
        # timeout around it); the engine keeps the task and awaits it when it stops.
        if self.compensation is None:
            self.compensation = asyncio.ensure_future(self._compensate())
        return self.compensation

    async def _forward(self) -> bool:
        for stage in self.saga.stages():
            todo = [s for s in stage if self.state.step(s.name).status != StepStatus.DONE]
            if len(todo) == 1:
                ok = await self._run_step(todo[0])
            elif todo:
                ok = all(await asyncio.gather(*(self._run_step(s) for s in todo)))
            else:
                ok = True
            if not ok:
                return False
        return True

    async def _run_step(self, step: Step) -> bool:
        st, policy = self.state.step(step.name), step.retry
        while True:
            await self._wait_for_retry(st)
            attempt = self._begin(st, step.name, "action")
            st.status = StepStatus.RUNNING
            await self.commit(hold=policy.attempt_timeout)
            try:
                result = await self._attempt(step.action, step.name, "action", st.attempts, policy)
            except Exception as exc:
                error: Exception = exc
            else:
                if result is not None:
                    self.data = result
                st.status, st.error, attempt.ended_at = StepStatus.DONE, None, self.clock.time()
                self.state.committed |= step.kind is StepKind.PIVOT
                return True
            self._failed(st, attempt, error)
            permanent = policy.is_permanent(error) or policy.exhausted(st.attempts)
            if step.kind is not StepKind.RETRIABLE and permanent:
                st.status = StepStatus.FAILED
                self.state.error = f"step {step.name!r} failed: {describe(error)}"
                self.row = self.row.evolve(status=str(SagaStatus.COMPENSATING))
                return False
            await self._schedule_retry(st, policy.delay(st.attempts), StepStatus.RETRYING)

    async def _compensate(self) -> SagaStatus:
        status = SagaStatus.COMPENSATED
        for step in reversed(self.saga.steps):
            st = self._known(step.name)
            if st is None or step.compensate is None or not st.needs_compensation:
                continue
            if st.compensation != StepStatus.DONE and not await self._undo(step, st):
                status = SagaStatus.FAILED
                self.state.failed_in = "compensate"
                break
        await self.commit(status=status)
        return status

    async def _undo(self, step: Step, st: StepState) -> bool:
        assert step.compensate is not None
        policy = step.retry
        while True:
            await self._wait_for_retry(st)
            attempt = self._begin(st, step.name, "compensate")
            st.compensation = StepStatus.RUNNING
            await self.commit(status=SagaStatus.COMPENSATING, hold=policy.attempt_timeout)
            number = st.compensation_attempts
            try:
                await self._attempt(step.compensate, step.name, "compensate", number, policy)
            except Exception as exc:
                self._failed(st, attempt, exc)
                if policy.is_permanent(exc):
                    st.compensation = StepStatus.FAILED
                    self.state.error = f"compensation of step {step.name!r} failed: {describe(exc)}"
                    return False
                await self._schedule_retry(st, policy.delay(number), StepStatus.RETRYING, True)
                continue
            st.compensation, attempt.ended_at = StepStatus.DONE, self.clock.time()
            return True

    # -- one attempt -----------------------------------------------------------------------

    def _begin(self, st: StepState, name: str, kind: str) -> Attempt:
        if kind == "action":
            st.attempts += 1
            number = st.attempts
        else:
            st.compensation_attempts += 1
            number = st.compensation_attempts
        attempt = Attempt(kind=kind, number=number, started_at=self.clock.time())
        st.history.append(attempt)
        st.next_at = None
        self.state.cursor = name
        return attempt

    def _failed(self, st: StepState, attempt: Attempt, error: BaseException) -> None:
        attempt.ended_at, attempt.error = self.clock.time(), describe(error)
        st.error = attempt.error
        if isinstance(error, StepTimeout):
            st.unknown = True

    async def _schedule_retry(
        self, st: StepState, delay: float, status: StepStatus, compensation: bool = False
    ) -> None:
        if compensation:
            st.compensation = status
        else:
            st.status = status
        st.next_at = self.clock.time() + delay
        await self.commit(hold=delay)

    async def _wait_for_retry(self, st: StepState) -> None:
        if st.next_at is not None:
            await self.clock.sleep(max(0.0, st.next_at - self.clock.time()))

    async def _attempt(self, action: Action, step: str, kind: str, number: int, policy: Any) -> Any:
        watch = None
        context = self.context
        if self.observer is not None:  # tracing: the attempt is a span, its calls its children
            watch = self.observer(self.saga.name, self.row.id, step, kind, number)
            context = watch.context or context
        ctx = StepContext(
            saga_id=self.row.id,
            saga=self.saga.name,
            step=step,
            kind=kind,
            attempt=number,
            context=context,
            sender=functools.partial(self._send, step, kind, policy.attempt_timeout),
        )
        if watch is None:
            return await within(self.clock, policy.attempt_timeout, action(self.data, ctx), step)
        try:
            result = await within(self.clock, policy.attempt_timeout, action(self.data, ctx), step)
        except BaseException as exc:
            watch.finish(exc)
            raise
        watch.finish(None)
        return result

    async def _send(
        self, step: str, kind: str, hold: float, topic: str, message: Any, returns: Any
    ) -> Any:
        return await commands.send(self, step, kind, topic, message, returns, hold)

    def _known(self, name: str) -> StepState | None:
        for st in self.state.steps:
            if st.name == name:
                return st
        return None


async def within(clock: Clock, timeout: float, coro: Any, step: str) -> Any:
    """Run ``coro`` for at most ``timeout`` seconds of ``clock``; else StepTimeout."""
    message = f"step {step!r}: no answer within {timeout:g}s"
    if clock is SYSTEM_CLOCK:
        try:
            async with asyncio.timeout(timeout):
                return await coro
        except TimeoutError as exc:
            raise StepTimeout(message) from exc
    work = asyncio.ensure_future(coro)
    timer = asyncio.ensure_future(clock.sleep(timeout))
    try:
        await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        work.cancel()
        raise
    finally:
        timer.cancel()
    if work.done():
        return work.result()
    work.cancel()
    await asyncio.wait({work})
    raise StepTimeout(message)
