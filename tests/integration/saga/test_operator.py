"""What an operator can do on the fake clock: abort a running saga, retry a failed one."""

from __future__ import annotations

import asyncio

import pytest

from interlink.saga import Saga, SagaEngine, SagaError, SagaStatus, StepRetry
from interlink.saga._state import decode_state
from tests.integration.saga.conftest import drive
from tests.integration.saga.journal import Declined, Journal, Order
from tests.integration.saga.test_resume import until

RETRY = StepRetry(initial=1.0, max_attempts=3, timeout=5.0, non_retryable=(Declined,))


def saga_for(db, prefix: str, journal: Journal, second, *, pivot: bool = False) -> Saga[Order]:
    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=journal.ok())(journal.ok())
    if pivot:
        saga.step(name="charge", pivot=True)(journal.ok())
        saga.step(name="ship", retriable=True)(second)
    else:
        saga.step(name="charge", compensate=journal.ok())(second)
    return saga


def stuck(journal: Journal):
    async def action(data: Order, ctx) -> None:
        journal.record(ctx)
        await asyncio.Event().wait()

    return action


async def test_abort_compensates_a_running_saga_now(db, prefix, clock):
    journal = Journal(clock)
    saga = saga_for(db, prefix, journal, stuck(journal))
    async with SagaEngine([saga], clock=clock, poll=1.0) as engine:
        saga_id = await engine.start(saga, Order())
        await until(lambda: journal.calls() == ["reserve", "charge"])
        await engine.abort(saga_id, reason="customer cancelled")

        async def ended() -> SagaStatus:
            while (status := SagaStatus((await engine.get(saga_id)).status)).active:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            return status

        assert await drive(clock, ended()) is SagaStatus.COMPENSATED
        row = await engine.get(saga_id)
    assert journal.calls("compensate") == ["charge", "reserve"]  # the step in flight too
    assert decode_state(row.state, saga="checkout").error == "aborted: customer cancelled"


async def test_abort_is_refused_past_the_pivot(db, prefix, clock):
    journal = Journal(clock)
    saga = saga_for(db, prefix, journal, stuck(journal), pivot=True)
    async with SagaEngine([saga], clock=clock, poll=None) as engine:
        saga_id = await engine.start(saga, Order())
        await until(lambda: journal.calls() == ["reserve", "charge", "ship"])
        with pytest.raises(SagaError, match="past its pivot"):
            await engine.abort(saga_id)


async def test_retry_runs_a_failed_compensation_again(db, prefix, clock):
    journal = Journal(clock)
    saga = Saga("checkout", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")
    saga.step(name="reserve", compensate=journal.failing(Declined("locked"), times=1))(journal.ok())
    saga.step(name="charge")(journal.failing(Declined("no")))
    async with SagaEngine([saga], clock=clock, poll=None) as engine:
        saga_id = await engine.start(saga, Order())
        assert await drive(clock, engine.wait(saga_id)) is SagaStatus.FAILED
        assert await engine.retry(saga_id)
        assert await drive(clock, engine.wait(saga_id)) is SagaStatus.COMPENSATED
    assert journal.calls("compensate") == ["reserve", "reserve"]
