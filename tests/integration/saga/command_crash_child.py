"""An App whose saga sends commands (``ctx.send``) to subscribers in the same process, on a real
broker; it SIGKILLs itself at a chosen point. test_command_crash drives it.

    python -m tests.integration.saga.command_crash_child URL PREFIX BROKER FLOW KILL

FLOW ``complete``: reserve → charge → ship, all succeed. FLOW ``compensate``: ship is declined,
so charge and reserve are compensated (by commands too). Every participant is a subscriber with
an inbox that writes its effect (keyed by the command's saga step and kind) in
``ctx.transaction()``. KILL is ``none``, ``commit:N`` (die right after the saga's N-th commit:
the command it wrote is in the outbox, maybe not sent) or ``effect:STEP:KIND`` (die right after
that participant's transaction committed its effect and reply, before the reply was sent). The
process prints the saga's final status when it gets there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import types
from typing import Any

from pydantic import BaseModel

import interlink as il
from interlink.messaging.inbox import Database
from interlink.runtime._inbox import InboxRun
from interlink.saga import StepContext, StepRetry
from tests.integration.inbox.effects import Effects
from tests.integration.saga.crash_child import die, kill_after_commit
from tests.integration.saga.journal import Order


class Command(BaseModel):
    key: str
    """``step:kind``: what the effects table records."""


class Done(BaseModel):
    ok: bool = True


class Declined(il.ApplicationError):
    status = 402


def kill_after_effect(point: str) -> None:
    original = InboxRun.finish

    async def finish(self: InboxRun, ctx: il.Context) -> None:
        await original(self, ctx)
        if ctx.envelope is not None and ctx.envelope.type.endswith(point):
            die()

    InboxRun.finish = finish  # type: ignore[method-assign]


def step(topic: str) -> Any:
    async def act(data: Order, ctx: StepContext) -> None:
        await ctx.send(topic, Command(key=f"{ctx.step}:{ctx.kind}"), returns=Done)

    return act


def participants(db: Database, effects: Effects, prefix: str, *, declined: bool) -> il.Service:
    svc = il.Service("participants")

    async def handle(cmd: Command, ctx: il.Context) -> Done:
        if declined and cmd.key == "ship:action":
            raise Declined("ship declined")
        async with ctx.transaction() as conn:
            tx: Any = types.SimpleNamespace(connection=conn)
            await effects.insert(tx, cmd.key)
        return Done()

    for name in ("reserve", "charge", "ship"):
        for kind in ("action", "compensate"):
            svc.subscribe(f"{prefix}.{name}.{kind}", inbox=db)(handle)
    return svc


async def main(url: str, prefix: str, broker: str, flow: str, kill: str) -> None:
    if kill.startswith("commit:"):
        kill_after_commit(int(kill.partition(":")[2]))
    if kill.startswith("effect:"):
        kill_after_effect(kill.partition(":")[2].replace(":", "."))
    async with Database(url, table=f"{prefix}_inbox", outbox_table=f"{prefix}_outbox") as db:
        effects = Effects(db, f"{prefix}_effects")
        await effects.create()
        retry = StepRetry(initial=0.01, max_attempts=3, timeout=5.0, non_retryable=("Declined",))
        saga = il.Saga(f"c{prefix}", data=Order, store=db, retry=retry, table=f"{prefix}_sagas")
        for name in ("reserve", "charge", "ship"):
            undo = step(f"{prefix}.{name}.compensate") if name != "ship" else None
            saga.step(name=name, compensate=undo)(step(f"{prefix}.{name}.action"))
        svc = participants(db, effects, prefix, declined=flow == "compensate")
        app = il.App([svc], broker=broker, serve_http=False, sagas=[saga], saga_lease=1.0)
        async with app:
            engine = app.sagas
            saga_id = await engine.start(saga, Order(), key="order-1")
            while True:  # the restarted worker resumes the saga after its lease: follow it
                status = await engine.wait(saga_id)
                if not status.active:
                    break
                await asyncio.sleep(0.05)  # the saga runs in this process; poll its row
            print(status, flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    asyncio.run(main(*sys.argv[1:6]))
