"""Command steps: ``ctx.send`` writes the command to the outbox with the saga's state, the
participant is an ordinary subscriber, and its reply comes back as a durable event.

On SQLite and PostgreSQL, in an App on the in-memory broker (its relay sends the outbox), and on
a bare engine for the cases where no App may answer (a reply stored while nobody waits, a
duplicate reply).
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest
from pydantic import BaseModel

import interlink as il
from interlink._envelope import Envelope
from interlink._replies import reply_event
from interlink.broker import MemoryBroker
from interlink.messaging.inbox import Database
from interlink.saga import SagaEngine, SagaStatus
from interlink.saga._state import decode_state
from tests.conftest import eventually


class Order(BaseModel):
    order_id: str
    amount: int
    payment_id: str | None = None
    released: bool = False


class Charge(BaseModel):
    order_id: str
    amount: int


class Charged(BaseModel):
    payment_id: str


class Declined(il.ApplicationError):
    status = 402


RETRY = il.StepRetry(initial=0.01, max_attempts=3, timeout=5.0, non_retryable=("Declined",))


def flow(db: Database, prefix: str) -> tuple[il.Saga[Order], list[str]]:
    undone: list[str] = []
    saga = il.Saga(f"pay{prefix}", data=Order, store=db, retry=RETRY, table=f"{prefix}_sagas")

    async def unreserve(data: Order, ctx: il.StepContext) -> None:
        undone.append(data.order_id)

    @saga.step(compensate=unreserve)
    async def reserve(data: Order, ctx: il.StepContext) -> None:
        return None

    @saga.step(pivot=True)
    async def charge(data: Order, ctx: il.StepContext) -> None:
        charged = await ctx.send(
            "payment.charge", Charge(order_id=data.order_id, amount=data.amount), returns=Charged
        )
        data.payment_id = charged.payment_id

    return saga, undone


def payment(db: Database, effects: list[str]) -> il.Service:
    svc = il.Service("payment")

    @svc.subscribe("payment.charge", inbox=db)
    async def charge(req: Charge, ctx: il.Context) -> Charged:
        if req.amount > 100:
            raise Declined(f"{req.amount} is over the limit")
        async with ctx.transaction():
            effects.append(req.order_id)
        return Charged(payment_id=f"pay-{req.order_id}")

    return svc


def app_for(services: list[il.Service], saga: il.Saga[Order], tmp_path: Any) -> il.App:
    return il.App(
        services, broker=MemoryBroker(), serve_http=False, sagas=[saga], directory=str(tmp_path)
    )


async def test_a_command_step_is_answered_by_a_subscriber_and_completes(
    db: Database, prefix: str, tmp_path: Any
) -> None:
    saga, undone = flow(db, prefix)
    effects: list[str] = []
    async with app_for([payment(db, effects)], saga, tmp_path) as app:
        saga_id = await app.sagas.start(saga, Order(order_id="o1", amount=40))
        assert await app.sagas.wait(saga_id) == SagaStatus.COMPLETED
        done = await app.sagas.data(saga, saga_id)
    assert done.payment_id == "pay-o1"
    assert effects == ["o1"]
    assert undone == []
    command = await db.outbox.get(f"{saga_id}:charge:action:1")
    assert command is not None
    assert command.topic == "payment.charge"
    envelope = Envelope.from_bytes(command.body)
    assert envelope.replyto == f"sagas.pay{prefix}.replies"
    assert envelope.correlationid == saga_id
    # the participant's reply was an outbox row of its inbox transaction, with its effect
    reply = await db.outbox.get(f"{saga_id}:charge:action:1:reply:200")
    assert reply is not None
    assert reply.topic == f"sagas.pay{prefix}.replies"


async def test_an_error_reply_fails_the_step_and_compensates(
    db: Database, prefix: str, tmp_path: Any
) -> None:
    saga, undone = flow(db, prefix)
    effects: list[str] = []
    async with app_for([payment(db, effects)], saga, tmp_path) as app:
        saga_id = await app.sagas.start(saga, Order(order_id="o2", amount=500))
        assert await app.sagas.wait(saga_id) == SagaStatus.COMPENSATED
        row = await app.sagas.get(saga_id)
    state = decode_state(row.state, saga=saga.name)
    assert state.error is not None
    assert "Declined" in state.error
    assert undone == ["o2"]
    assert effects == []
    assert state.step("charge").attempts == 1  # non-retryable: not tried again


async def test_the_command_commits_with_the_state_and_a_late_reply_is_used_once(
    db: Database, prefix: str
) -> None:
    """No participant answers: the command is an outbox row written with the state that
    records it. The engine stops; a reply then comes, with no attempt waiting: it is stored in
    the saga's state, and the resumed saga uses it without sending the command again. The
    same reply again is a duplicate and ignored."""
    saga, _ = flow(db, prefix)
    owner = f"w-{uuid.uuid4().hex[:8]}"
    async with SagaEngine([saga], owner=owner, poll=None) as engine:
        saga_id = await engine.start(saga, Order(order_id="o3", amount=40))

        async def sent() -> bool:
            return await db.outbox.get(f"{saga_id}:charge:action:1") is not None

        await eventually(sent, timeout=10)
        row = await engine.get(saga_id)
        command = decode_state(row.state, saga=saga.name).step("charge").command("action")
        assert (command.id, command.status) == (f"{saga_id}:charge:action:1", None)
    request = Envelope.from_bytes((await db.outbox.get(f"{saga_id}:charge:action:1")).body)
    reply = reply_event(request, 200, b'{"payment_id": "late-1"}', source="/payment", now=0.0)
    async with SagaEngine([saga], owner=owner, poll=None) as engine:
        # the restarted worker took its saga back and waits for the same command again
        await eventually(lambda: request.id in engine.replies, timeout=10)
        assert await db.outbox.get(f"{saga_id}:charge:action:2") is None
        assert await engine.on_reply(reply) is True
        assert await engine.wait(saga_id) == SagaStatus.COMPLETED
        assert (await engine.data(saga, saga_id)).payment_id == "late-1"
        assert await engine.on_reply(reply) is False  # a duplicate: the step is done
    assert await db.outbox.get(f"{saga_id}:charge:action:2") is None


async def test_a_reply_stored_while_no_engine_runs_the_saga_is_used_on_resume(
    db: Database, prefix: str
) -> None:
    saga, _ = flow(db, prefix)
    owner = f"w-{uuid.uuid4().hex[:8]}"
    async with SagaEngine([saga], owner=owner, poll=None) as engine:
        saga_id = await engine.start(saga, Order(order_id="o4", amount=40))

        async def sent() -> bool:
            return await db.outbox.get(f"{saga_id}:charge:action:1") is not None

        await eventually(sent, timeout=10)
    request = Envelope.from_bytes((await db.outbox.get(f"{saga_id}:charge:action:1")).body)
    reply = reply_event(request, 200, b'{"payment_id": "stored-1"}', source="/payment", now=0.0)
    async with SagaEngine([saga], owner="someone-else", poll=None) as other:
        assert await other.on_reply(reply) is True  # not its saga: stored in the row
        stored = decode_state((await other.get(saga_id)).state, saga=saga.name)
        assert stored.step("charge").command("action").status == 200
    async with SagaEngine([saga], owner=owner, poll=None) as engine:
        assert await engine.wait(saga_id) == SagaStatus.COMPLETED
        assert (await engine.data(saga, saga_id)).payment_id == "stored-1"
    assert await db.outbox.get(f"{saga_id}:charge:action:2") is None


@pytest.mark.parametrize("status", [200, 503])
def test_a_reply_event_names_its_command_and_status(status: int) -> None:
    command = Envelope(
        id="c1", source="/s", type="t", specversion="1.0", correlationid="k", replyto="r.t"
    )
    reply = reply_event(command, status, b"{}", source="/p", now=0.0)
    decoded = Envelope.from_bytes(reply.to_bytes())
    assert (decoded.causationid, decoded.correlationid, decoded.subject) == ("c1", "k", str(status))
    assert decoded.id == f"c1:reply:{status}"
    assert msgspec.json.decode(decoded.data) == {}


async def test_a_participant_failing_after_its_transaction_block_keeps_nothing(
    prefix: str, tmp_path: Any
) -> None:
    """For a command with a reply topic the participant's transaction commits only with its
    reply, after the handler returned: a handler that fails after its block leaves no effect
    and no claim, and its retry applies the effect once and answers. (The runtime's mechanism,
    the same on every database: shown on SQLite.)"""
    url = f"sqlite:///{tmp_path / 'participant.db'}"
    async with Database(url, table=f"{prefix}_inbox", outbox_table=f"{prefix}_outbox") as db:
        async with db.transaction() as tx:
            await tx.connection.execute(f"CREATE TABLE {prefix}_effects (order_id TEXT)")
        saga, _ = flow(db, prefix)
        svc = il.Service("payment")
        runs: list[int] = []

        @svc.subscribe(
            "payment.charge",
            inbox=db,
            retry=il.Retry(attempts=3, backoff=il.Backoff.constant(0.01), on=Exception),
        )
        async def charge(req: Charge, ctx: il.Context) -> Charged:
            runs.append(1)
            async with ctx.transaction() as conn:
                await conn.execute(f"INSERT INTO {prefix}_effects VALUES ('{req.order_id}')")
            if len(runs) == 1:
                raise RuntimeError("failed after the transaction's block")
            return Charged(payment_id="p-once")

        async with app_for([svc], saga, tmp_path) as app:
            saga_id = await app.sagas.start(saga, Order(order_id="o5", amount=10))
            assert await app.sagas.wait(saga_id) == SagaStatus.COMPLETED
        async with db.transaction() as tx:
            cursor = await tx.connection.execute(f"SELECT order_id FROM {prefix}_effects")
            rows = await cursor.fetchall()
    assert [tuple(r) for r in rows] == [("o5",)]
    assert len(runs) == 2
