"""Resuming on the fake clock: two workers, a late reply, cancellation during compensation, and a
definition that changed between two deploys."""

from __future__ import annotations

import asyncio

from interlink.saga import Saga, SagaEngine, SagaStatus, StepRetry
from interlink.saga._state import decode_state
from interlink.testing import FakeClock
from tests.integration.saga.conftest import drive
from tests.integration.saga.journal import Declined, Journal, Order

RETRY = StepRetry(
    initial=1.0, max_interval=60.0, max_attempts=3, timeout=5.0, non_retryable=(Declined,)
)
LEASE = 10.0
PAST_LEASE = RETRY.attempt_timeout + LEASE + 1


def blocking_first(journal: Journal, gate: asyncio.Event):
    """An action whose first attempt waits for ``gate``; later attempts answer at once."""

    async def action(data: Order, ctx) -> None:
        journal.record(ctx)
        if ctx.attempt == 1:
            await gate.wait()
        data.notes.append(f"{ctx.step}:{ctx.attempt}")

    return action


async def until(predicate, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - the predicate reads the journal
            await asyncio.sleep(0.005)


def new_engine(saga: Saga[Order], clock: FakeClock) -> SagaEngine:
    return SagaEngine([saga], clock=clock, poll=None, lease=LEASE)


def checkout(db, prefix: str, journal: Journal, first, *names: str) -> Saga[Order]:
    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=journal.ok())(first)
    for name in names:
        saga.step(name=name, compensate=journal.ok())(journal.ok())
    return saga


async def test_two_workers_resuming_one_saga_exactly_one_advances(db, prefix, clock):
    journal, gate = Journal(clock), asyncio.Event()
    saga = checkout(db, prefix, journal, blocking_first(journal, gate), "charge")
    async with new_engine(saga, clock) as first:
        saga_id = await first.start(saga, Order())
        await until(lambda: journal.calls() == ["reserve"])
    clock.advance(PAST_LEASE)  # its worker is gone; its lease runs out
    b, c = new_engine(saga, clock), new_engine(saga, clock)
    took = await asyncio.gather(b.resume(saga_id), c.resume(saga_id))
    assert sorted(took) == [False, True]
    winner = b if took[0] else c
    assert await drive(clock, winner.wait(saga_id)) is SagaStatus.COMPLETED
    await b.close()
    await c.close()
    assert journal.calls() == ["reserve", "reserve", "charge"]
    assert [e[2] for e in journal.of("reserve")] == [1, 2]  # re-sent, with the same key:
    assert {e[3] for e in journal.of("reserve")} == {f"{saga_id}:reserve:action"}


async def test_a_late_reply_from_a_worker_that_lost_the_saga_is_ignored(db, prefix, clock):
    journal, gate = Journal(clock), asyncio.Event()
    saga = checkout(db, prefix, journal, blocking_first(journal, gate), "charge")
    hung = SagaEngine([saga], clock=FakeClock(), poll=None, lease=LEASE)  # its time stands still
    async with hung:
        saga_id = await hung.start(saga, Order())
        await until(lambda: journal.calls() == ["reserve"])
        clock.advance(PAST_LEASE)
        other = new_engine(saga, clock)
        assert await other.resume(saga_id)
        assert await drive(clock, other.wait(saga_id)) is SagaStatus.COMPLETED
        before = await other.get(saga_id)
        gate.set()  # the first worker's reply comes in at last
        assert await hung.wait(saga_id) is SagaStatus.COMPLETED
        after = await other.get(saga_id)
        await other.close()
    assert after == before  # nothing written by the worker that lost it
    assert journal.calls() == ["reserve", "reserve", "charge"]  # charge not sent again
    data = Order.model_validate_json(bytes(decode_state(after.state, saga="checkout").data))
    assert data.notes == ["reserve:2", "charge:action"]


async def test_cancellation_during_compensation_does_not_skip_it(db, prefix, clock):
    journal, gate = Journal(clock), asyncio.Event()

    async def slow_undo(data: Order, ctx) -> None:
        journal.record(ctx)
        await gate.wait()

    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=slow_undo)(journal.ok())
    saga.step(name="charge")(journal.failing(Declined("no")))
    engine = new_engine(saga, clock)
    await engine.__aenter__()
    saga_id = await engine.start(saga, Order())
    await until(lambda: journal.calls("compensate") == ["reserve"])
    closing = asyncio.ensure_future(engine.close())  # cancels the saga's run
    await asyncio.sleep(0.05)
    assert not closing.done()  # ... but not the compensation in flight
    gate.set()
    await closing
    async with new_engine(saga, clock) as check:
        assert (await check.get(saga_id)).status == "COMPENSATED"
    assert journal.calls("compensate") == ["reserve"]


async def test_a_changed_definition_resumes_by_step_name(db, prefix, clock):
    journal, gate = Journal(clock), asyncio.Event()
    v1 = checkout(db, prefix, journal, blocking_first(journal, gate), "charge")
    async with new_engine(v1, clock) as old:
        saga_id = await old.start(v1, Order())
        await until(lambda: journal.calls() == ["reserve"])
    clock.advance(PAST_LEASE)
    # the new deploy adds "audit" before "charge"
    v2 = checkout(db, prefix, journal, blocking_first(journal, gate), "audit", "charge")
    async with new_engine(v2, clock) as new:
        assert await drive(clock, new.wait(saga_id)) is SagaStatus.COMPLETED
    assert journal.calls() == ["reserve", "reserve", "audit", "charge"]


async def test_a_saga_whose_current_step_was_removed_fails_naming_it(db, prefix, clock):
    journal, gate = Journal(clock), asyncio.Event()
    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=journal.ok())(journal.ok())
    saga.step(name="charge")(blocking_first(journal, gate))
    async with new_engine(saga, clock) as old:
        saga_id = await old.start(saga, Order())
        await until(lambda: journal.calls() == ["reserve", "charge"])
    clock.advance(PAST_LEASE)
    v2 = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    v2.step(name="reserve", compensate=journal.ok())(journal.ok())
    v2.step(name="pay")(journal.ok())
    async with new_engine(v2, clock) as new:
        row = await new.get(saga_id)
    assert row.status == "FAILED"
    assert decode_state(row.state, saga="checkout").error == (
        "step 'charge' no longer exists in saga 'checkout'"
    )
    assert journal.calls() == ["reserve", "charge"]


async def test_the_resume_loop_picks_up_a_saga_left_behind(db, prefix, clock):
    journal, gate = Journal(clock), asyncio.Event()
    saga = checkout(db, prefix, journal, blocking_first(journal, gate), "charge")
    async with new_engine(saga, clock) as old:
        saga_id = await old.start(saga, Order())
        await until(lambda: journal.calls() == ["reserve"])
    async with SagaEngine([saga], clock=clock, poll=1.0, lease=LEASE) as polling:
        assert await drive(clock, until_status(polling, saga_id)) is SagaStatus.COMPLETED
    assert clock.monotonic() >= PAST_LEASE - 1


async def until_status(engine: SagaEngine, saga_id: str) -> SagaStatus:
    while (status := SagaStatus((await engine.get(saga_id)).status)).active:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    return status


async def test_a_resumed_saga_never_resends_a_done_step(db, prefix, clock):
    journal, gate = Journal(clock), asyncio.Event()
    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=journal.ok())(journal.ok())
    saga.step(name="charge")(blocking_first(journal, gate))
    async with new_engine(saga, clock) as old:
        saga_id = await old.start(saga, Order())
        await until(lambda: journal.calls() == ["reserve", "charge"])
    clock.advance(PAST_LEASE)
    async with new_engine(saga, clock) as new:
        assert await drive(clock, new.wait(saga_id)) is SagaStatus.COMPLETED
    assert journal.calls() == ["reserve", "charge", "charge"]
