"""Command steps: ``await ctx.send(topic, message)`` in a saga step.

The command goes through the outbox of the saga's database, written in the same transaction
that records it in the saga's state, so it is sent exactly when the saga says it was (at least
once, the relay retrying until the broker has it). Its envelope names the saga's reply topic
(``replyto``, ``sagas.{name}.replies``); the participant is an ordinary subscriber whose return
value (or dead-lettered error) comes back there as a durable reply event (``interlink._replies``).

Invariant: one command in flight per step and kind. An attempt that times out waits for the
same command again instead of sending a copy (the outbox already delivers it; a copy would be
dropped by the participant's inbox, which then sends no reply). Only a failed reply makes the
next attempt send a new command, with a new id. A reply that comes while no attempt waits for it
is stored in the saga's state, and the next attempt uses it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec

from interlink._codec import codec_for, encode_any
from interlink._envelope import Envelope, format_time
from interlink._replies import reply_status
from interlink._tracecontext import new_traceparent
from interlink._wire import Outcome, outcome_to_error
from interlink.saga._errors import OwnershipLost, SagaNotFound
from interlink.saga._state import Command, StepStatus, decode_state, encode_state

if TYPE_CHECKING:
    from interlink.saga._runner import Runner
    from interlink.saga._store import SagaRow, SagaStore

__all__ = ["Replies", "reply_topic", "send"]


def reply_topic(saga: str) -> str:
    """Where the participants of saga ``saga`` answer its commands."""
    return f"sagas.{saga}.replies"


class Replies:
    """The attempts of one engine waiting for replies, by command id."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[tuple[int, bytes]]] = {}

    def expect(self, command_id: str) -> asyncio.Future[tuple[int, bytes]]:
        waiter = self._waiting.get(command_id)
        if waiter is None or waiter.done():
            waiter = asyncio.get_running_loop().create_future()
            self._waiting[command_id] = waiter
        return waiter

    def __contains__(self, command_id: object) -> bool:
        """Whether an attempt here waits for that command's reply."""
        return command_id in self._waiting

    def forget(self, command_id: str) -> None:
        self._waiting.pop(command_id, None)

    def deliver(self, command_id: str, status: int, body: bytes) -> bool:
        """Hand a reply to the attempt waiting for it; False when none waits here."""
        waiter = self._waiting.pop(command_id, None)
        if waiter is None or waiter.done():
            return False
        waiter.set_result((status, body))
        return True


async def send(
    runner: Runner, step: str, kind: str, topic: str, message: Any, returns: Any, hold: float
) -> Any:
    """Send ``message`` as the step's command (or use the reply it already has); its reply."""
    command = runner.state.step(step).command(kind)
    if command.id is not None and command.status is not None and not command.seen:
        return _answer(command, topic, returns)  # it came while no attempt waited
    if command.id is None or command.status is not None:
        command.sends += 1
        command.id = f"{runner.row.id}:{step}:{kind}:{command.sends}"
        command.status, command.reply, command.seen = None, msgspec.Raw(b"null"), False
        waiter = runner.replies.expect(command.id)
        envelope = _command(runner, command.id, topic, message)
        await runner.commit(hold=hold, events=[(topic, envelope)])
    else:  # in flight since an earlier attempt (or before a restart): wait for it again
        waiter = runner.replies.expect(command.id)
    try:
        status, body = await waiter
    finally:
        runner.replies.forget(command.id)
    command.status, command.reply = status, msgspec.Raw(body)
    return _answer(command, topic, returns)


def _answer(command: Command, topic: str, returns: Any) -> Any:
    command.seen = True
    body = bytes(command.reply)
    if command.status != 200:
        raise outcome_to_error(Outcome(command.status or 500, body), topic, "")
    return msgspec.json.decode(body) if returns is None else codec_for(returns).decode(body)


def _command(runner: Runner, command_id: str, topic: str, message: Any) -> Envelope:
    return Envelope(
        id=command_id,
        source=f"/sagas/{runner.saga.name}",
        type=topic,
        specversion="1.0",
        time=format_time(runner.clock.time()),
        traceparent=new_traceparent(),
        correlationid=runner.row.id,
        replyto=reply_topic(runner.saga.name),
        data=msgspec.Raw(encode_any(message)),
    )


async def store_reply(store: SagaStore, reply: Envelope, *, now: float, limit: int) -> bool:
    """Record a reply that no attempt here waits for in its saga's state (fenced like every
    write); False when it is late or a duplicate (its saga or step moved on)."""
    command_id = reply.causationid or ""
    saga_id = command_id.split(":", 1)[0]
    for _ in range(10):  # another write moved the version on: read and try again
        row = await store.get(saga_id)
        if row is None:
            raise SagaNotFound(f"no saga {saga_id!r} for reply {reply.id!r}")
        command = _waiting_command(row, command_id)
        if command is None:
            return False
        state, target = command
        target.status, target.reply = reply_status(reply), reply.data
        new = row.evolve(
            version=row.version + 1,
            state=encode_state(state, limit=limit, saga=row.name),
            updated_at=now,
        )
        try:
            await store.update(new, expected=row.version)
        except OwnershipLost:
            continue
        return True
    raise OwnershipLost(f"saga {saga_id}: kept changing while a reply was stored")


def _waiting_command(row: SagaRow, command_id: str) -> tuple[Any, Command] | None:
    if row.status not in ("RUNNING", "COMPENSATING"):
        return None
    state = decode_state(row.state, saga=row.name)
    for st in state.steps:
        for command in st.commands:
            if command.id == command_id and command.status is None:
                running = st.status != StepStatus.DONE or command.kind == "compensate"
                return (state, command) if running else None
    return None
