"""Orchestration on the fake clock, against SQLite and PostgreSQL: forward, retry, compensation,
the pivot, timeouts (a reply that never comes), and what is persisted."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from interlink.messaging.inbox import Database
from interlink.saga import (
    Saga,
    SagaDataTooLarge,
    SagaEngine,
    SagaStatus,
    StepRetry,
    StepStatus,
)
from interlink.saga._state import decode_state
from interlink.testing import FakeClock
from tests.integration.saga.conftest import drive
from tests.integration.saga.journal import Declined, Flaky, Journal, Order

RETRY = StepRetry(
    initial=1.0,
    multiplier=2.0,
    max_interval=60.0,
    max_attempts=3,
    timeout=5.0,
    non_retryable=(Declined,),
)


def three_steps(db: Database, prefix: str, journal: Journal, third=None) -> Saga[Order]:
    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=journal.ok())(journal.ok())
    saga.step(name="charge", compensate=journal.ok())(journal.ok())
    saga.step(name="ship", compensate=journal.ok())(third or journal.ok())
    return saga


def engine(saga: Saga[Order], clock: FakeClock, **options) -> SagaEngine:
    return SagaEngine([saga], clock=clock, poll=None, **options)


async def run(
    saga: Saga[Order], clock: FakeClock, data: Order | None = None
) -> tuple[str, SagaStatus]:
    async with engine(saga, clock) as eng:
        saga_id = await eng.start(saga, data or Order())
        return saga_id, await drive(clock, eng.wait(saga_id))


async def state_of(db_saga: Saga[Order], clock: FakeClock, saga_id: str):
    async with engine(db_saga, clock) as eng:
        row = await eng.get(saga_id)
    return row, decode_state(row.state, saga=row.name)


async def test_all_steps_succeed_completed_without_compensation(db, prefix, clock):
    journal = Journal(clock)
    saga = three_steps(db, prefix, journal)
    saga_id, status = await run(saga, clock)
    assert status is SagaStatus.COMPLETED
    assert journal.calls() == ["reserve", "charge", "ship"]
    assert journal.calls("compensate") == []
    row, state = await state_of(saga, clock, saga_id)
    assert row.owner is None
    assert row.version == 4  # 4 commits: reserve begun, charge begun, ship begun, COMPLETED
    assert [s.status for s in state.steps] == [StepStatus.DONE] * 3
    data = Order.model_validate_json(bytes(state.data))
    assert data.notes == ["reserve:action", "charge:action", "ship:action"]


async def test_a_permanent_failure_compensates_the_done_steps_in_reverse(db, prefix, clock):
    journal = Journal(clock)
    saga = three_steps(db, prefix, journal, third=journal.failing(Declined("no")))
    saga_id, status = await run(saga, clock)
    assert status is SagaStatus.COMPENSATED
    assert journal.calls() == ["reserve", "charge", "ship", "charge", "reserve"]
    assert journal.calls("compensate") == ["charge", "reserve"]  # ship failed: nothing to undo
    assert len(journal.of("ship")) == 1  # non-retryable: no second attempt
    _, state = await state_of(saga, clock, saga_id)
    assert state.error == "step 'ship' failed: Declined: no"
    assert state.step("ship").compensation is StepStatus.PENDING


async def test_a_transient_failure_is_retried_with_backoff(db, prefix, clock):
    journal = Journal(clock)
    saga = three_steps(db, prefix, journal, third=journal.failing(Flaky("try later"), times=2))
    saga_id, status = await run(saga, clock)
    assert status is SagaStatus.COMPLETED
    attempts = journal.of("ship")
    assert [a[2] for a in attempts] == [1, 2, 3]
    times = [a[4] for a in attempts]
    assert [b - a for a, b in itertools.pairwise(times)] == [1.0, 2.0]
    assert len({a[3] for a in attempts}) == 1  # one idempotency key for every attempt
    assert attempts[0][3] == f"{saga_id}:ship:action"
    assert journal.calls("compensate") == []


async def test_a_missing_reply_is_resent_with_the_same_key_then_compensated(db, prefix, clock):
    journal = Journal(clock)

    async def never_answers(data: Order, ctx) -> None:
        journal.record(ctx)
        await asyncio.Event().wait()

    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=journal.ok())(journal.ok())
    saga.step(name="charge", compensate=journal.ok())(never_answers)
    saga_id, status = await run(saga, clock)
    assert status is SagaStatus.COMPENSATED
    attempts = journal.of("charge")
    assert len(attempts) == RETRY.max_attempts
    assert {a[3] for a in attempts} == {f"{saga_id}:charge:action"}
    times = [a[4] for a in attempts]
    # each attempt waits its 5 s deadline, then the backoff (1 s, then 2 s)
    assert [b - a for a, b in itertools.pairwise(times)] == [6.0, 7.0]
    # its outcome is unknown, so it is compensated too, before the step before it
    assert journal.calls("compensate") == ["charge", "reserve"]
    _, state = await state_of(saga, clock, saga_id)
    assert state.step("charge").unknown


async def test_a_compensation_failing_transiently_is_retried_until_done(db, prefix, clock):
    journal = Journal(clock)
    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=journal.failing(Flaky("db down"), times=3))(journal.ok())
    saga.step(name="charge")(journal.failing(Declined("no")))
    saga_id, status = await run(saga, clock)
    assert status is SagaStatus.COMPENSATED
    undo = journal.of("reserve", "compensate")
    assert [u[2] for u in undo] == [1, 2, 3, 4]  # beyond max_attempts: compensations never give up
    times = [u[4] for u in undo]
    assert [b - a for a, b in itertools.pairwise(times)] == [1.0, 2.0, 4.0]
    assert {u[3] for u in undo} == {f"{saga_id}:reserve:compensate"}


async def test_a_non_retryable_compensation_error_fails_the_saga_with_its_reason(db, prefix, clock):
    journal = Journal(clock)
    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=journal.failing(Declined("gone")))(journal.ok())
    saga.step(name="charge")(journal.failing(Declined("no")))
    saga_id, status = await run(saga, clock)
    assert status is SagaStatus.FAILED
    row, state = await state_of(saga, clock, saga_id)
    assert row.status == "FAILED"
    assert state.error == "compensation of step 'reserve' failed: Declined: gone"


async def test_after_the_pivot_a_retriable_step_is_retried_and_never_compensated(db, prefix, clock):
    journal = Journal(clock)
    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=journal.ok())(journal.ok())
    saga.step(name="charge", pivot=True)(journal.ok())
    saga.step(name="ship", retriable=True)(journal.failing(Declined("carrier down"), times=5))
    _saga_id, status = await run(saga, clock)
    assert status is SagaStatus.COMPLETED
    assert len(journal.of("ship")) == 6  # past max_attempts=3, past a "non-retryable" error
    assert journal.calls("compensate") == []


async def test_a_failing_pivot_compensates_the_steps_before_it(db, prefix, clock):
    journal = Journal(clock)
    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=journal.ok())(journal.ok())
    saga.step(name="charge", pivot=True)(journal.failing(Declined("card")))
    saga.step(name="ship", retriable=True)(journal.ok())
    _, status = await run(saga, clock)
    assert status is SagaStatus.COMPENSATED
    assert journal.calls() == ["reserve", "charge", "reserve"]


async def test_parallel_steps_run_together_and_are_compensated(db, prefix, clock):
    journal = Journal(clock)
    both = asyncio.Barrier(2)

    def together():
        async def action(data: Order, ctx) -> None:
            journal.record(ctx)
            await both.wait()  # deadlocks unless both run at once

        return action

    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="a", compensate=journal.ok(), parallel="g")(together())
    saga.step(name="b", compensate=journal.ok(), parallel="g")(together())
    saga.step(name="c")(journal.failing(Declined("no")))
    _, status = await run(saga, clock)
    assert status is SagaStatus.COMPENSATED
    assert journal.calls()[:3] == ["a", "b", "c"]
    assert journal.calls("compensate") == ["b", "a"]


async def test_oversized_data_is_refused_when_written(db, prefix, clock):
    journal = Journal(clock)
    saga = Saga("checkout", data=Order, store=db, table=f"{prefix}_sagas", max_state_bytes=1000)
    saga.step(name="reserve")(journal.ok())
    async with engine(saga, clock) as eng:
        with pytest.raises(SagaDataTooLarge, match="over the store's limit of 1000 bytes"):
            await eng.start(saga, Order(notes=["x" * 2000]))
    assert journal.entries == []


async def test_starting_with_the_same_key_twice_starts_one_saga(db, prefix, clock):
    journal = Journal(clock)
    saga = three_steps(db, prefix, journal)
    async with engine(saga, clock) as eng:
        first = await eng.start(saga, Order(), key="o-1")
        second = await eng.start(saga, Order(), key="o-1")
        assert await drive(clock, eng.wait(first)) is SagaStatus.COMPLETED
    assert first == second
    assert journal.calls() == ["reserve", "charge", "ship"]


async def test_each_attempt_is_committed_before_it_is_sent(db, prefix, clock):
    seen: list[tuple[str, str, int]] = []
    eng: SagaEngine

    async def look(data: Order, ctx) -> None:
        row = await eng.get(ctx.saga_id)
        step = decode_state(row.state, saga=row.name).step(ctx.step)
        seen.append((ctx.step, step.status, step.attempts))
        if ctx.attempt == 1 and ctx.step == "charge":
            raise Flaky("again")

    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve")(look)
    saga.step(name="charge")(look)
    async with engine(saga, clock) as eng:
        saga_id = await eng.start(saga, Order())
        assert await drive(clock, eng.wait(saga_id)) is SagaStatus.COMPLETED
    assert seen == [("reserve", "RUNNING", 1), ("charge", "RUNNING", 1), ("charge", "RUNNING", 2)]
