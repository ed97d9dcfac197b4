"""A choreographed flow tracked on the fake clock: completed, duplicated and late events, and a
deadline that passes (compensating events written to the outbox with the status)."""

from __future__ import annotations

import msgspec
import pytest

import interlink as il
from interlink._envelope import Envelope
from interlink.saga import Choreography, ProcessNotStarted, SagaStatus
from interlink.saga._state import StepStatus, decode_state
from tests.integration.saga.conftest import drive


def event(topic: str, correlation: str, n: int = 0) -> Envelope:
    return Envelope(
        id=f"{topic}-{correlation}-{n}",
        source="/test",
        type=topic,
        specversion="1.0",
        correlationid=correlation,
        data=msgspec.Raw(b'{"order_id": "o-1"}'),
    )


def flow(db, prefix: str, clock) -> Choreography:
    return Choreography(
        "order-flow",
        store=db,
        start="orders.placed",
        expect=["payment.charged", "shipment.created"],
        deadline=30,
        compensate={"orders.placed": "orders.cancel", "payment.charged": "payment.refund"},
        table=f"{prefix}_choreo",
        clock=clock,
    )


async def test_all_expected_events_complete_the_process(db, prefix, clock):
    async with flow(db, prefix, clock) as tracker:
        pid = await tracker.observe(event("orders.placed", "c1"), topic="orders.placed")
        await tracker.observe(event("payment.charged", "c1"), topic="payment.charged")
        await tracker.observe(event("payment.charged", "c1", 1), topic="payment.charged")
        await tracker.observe(event("shipment.created", "c1"), topic="shipment.created")
        await tracker.observe(event("unrelated", "c1"), topic="unrelated")
        row = await tracker.store.get(pid)
    assert row.status == SagaStatus.COMPLETED
    state = decode_state(row.state, saga="order-flow")
    assert state.step("payment.charged").attempts == 1  # the duplicate was ignored
    assert [s.name for s in state.steps] == ["orders.placed", "payment.charged", "shipment.created"]


async def test_a_passed_deadline_compensates_what_happened_through_the_outbox(db, prefix, clock):
    async with flow(db, prefix, clock) as tracker:
        pid = await tracker.observe(event("orders.placed", "c2"), topic="orders.placed")
        await tracker.observe(event("payment.charged", "c2"), topic="payment.charged")
        clock.advance(29)
        assert await tracker.expire() == 0
        clock.advance(1)

        async def ended() -> str:
            while (row := await tracker.store.get(pid)).status == "RUNNING":
                await clock.sleep(1)
            return row.status

        assert await drive(clock, ended()) == SagaStatus.COMPENSATED
        late = await tracker.observe(event("shipment.created", "c2"), topic="shipment.created")
        row = await tracker.store.get(pid)
    assert late == pid
    state = decode_state(row.state, saga="order-flow")
    assert state.error == "deadline passed waiting for shipment.created"
    assert state.step("shipment.created").status == StepStatus.PENDING  # the late one ignored
    refund = await db.outbox.get(f"{pid}:payment.charged:compensate")
    cancel = await db.outbox.get(f"{pid}:orders.placed:compensate")
    assert (refund.topic, cancel.topic) == ("payment.refund", "orders.cancel")
    assert Envelope.from_bytes(refund.body).correlationid == "c2"


def failing_flow(db, prefix: str, clock) -> Choreography:
    return Choreography(
        "stock-flow",
        store=db,
        start="orders.placed",
        expect=["stock.reserved", "payment.charged"],
        failed=["payment.declined"],
        deadline=30,
        compensate={"stock.reserved": "stock.release"},
        table=f"{prefix}_choreo",
        clock=clock,
    )


async def test_a_failure_event_compensates_what_happened_at_once(db, prefix, clock):
    async with failing_flow(db, prefix, clock) as tracker:
        pid = await tracker.observe(event("orders.placed", "f1"), topic="orders.placed")
        await tracker.observe(event("stock.reserved", "f1"), topic="stock.reserved")
        assert await tracker.status("f1") == SagaStatus.RUNNING
        await tracker.observe(event("payment.declined", "f1"), topic="payment.declined")
        await tracker.observe(event("payment.declined", "f1", 1), topic="payment.declined")
        row = await tracker.store.get(pid)
    assert row.status == SagaStatus.COMPENSATED
    assert decode_state(row.state, saga="stock-flow").error == "payment.declined arrived"
    release = await db.outbox.get(f"{pid}:stock.reserved:compensate")
    assert release.topic == "stock.release"
    assert Envelope.from_bytes(release.body).correlationid == "f1"


async def test_a_step_slower_than_the_failure_is_compensated_when_it_arrives(db, prefix, clock):
    async with failing_flow(db, prefix, clock) as tracker:
        pid = await tracker.observe(event("orders.placed", "f2"), topic="orders.placed")
        await tracker.observe(event("payment.declined", "f2"), topic="payment.declined")
        assert await db.outbox.get(f"{pid}:stock.reserved:compensate") is None
        await tracker.observe(event("stock.reserved", "f2"), topic="stock.reserved")
        await tracker.observe(event("stock.reserved", "f2", 1), topic="stock.reserved")
        row = await tracker.store.get(pid)
    assert row.status == SagaStatus.COMPENSATED
    release = await db.outbox.get(f"{pid}:stock.reserved:compensate")
    assert release is not None
    assert release.topic == "stock.release"
    step = decode_state(row.state, saga="stock-flow").step("stock.reserved")
    assert (step.status, step.compensation, step.attempts) == ("DONE", "DONE", 1)


async def test_an_event_before_its_start_event_is_refused_to_be_retried(db, prefix, clock):
    async with failing_flow(db, prefix, clock) as tracker:
        with pytest.raises(ProcessNotStarted, match=r"came before orders\.placed"):
            await tracker.observe(event("stock.reserved", "f3"), topic="stock.reserved")
        assert await tracker.status("f3") is None
        await tracker.observe(event("orders.placed", "f3"), topic="orders.placed")
        await tracker.observe(event("stock.reserved", "f3"), topic="stock.reserved")
        await tracker.observe(event("payment.charged", "f3"), topic="payment.charged")
        assert await tracker.status("f3") == SagaStatus.COMPLETED


def test_a_failure_event_cannot_also_be_expected(db, prefix, clock):
    with pytest.raises(il.DefinitionError, match="cannot be expected"):
        Choreography("bad", store=db, start="a.b", expect=["c.d"], failed=["c.d"], deadline=1)
