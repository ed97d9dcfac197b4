"""An orchestrator process that SIGKILLs itself at a chosen point; test_saga_crash drives it.

    python -m tests.integration.saga.crash_child URL PREFIX FLOW KILL

FLOW ``complete``: reserve → charge → ship, all succeed. FLOW ``compensate``: ship is declined,
so charge and reserve are compensated. Every participant applies its effect through the inbox,
claiming the step's idempotency key. KILL is ``none``, ``commit:N`` (die right after the saga's
N-th commit, before whatever it causes is sent) or ``effect:STEP:KIND`` (die right after that
participant committed its effect, before the saga recorded the answer). The process prints the
saga's final status when it gets there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from interlink.messaging.inbox import Database
from interlink.saga import Saga, SagaEngine, StepContext, StepRetry
from interlink.saga._runner import Runner
from tests.integration.inbox.effects import Effects
from tests.integration.saga.journal import Declined, Order

SCOPE = "participants"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_after_commit(n: int) -> None:
    original = Runner.commit
    count = 0

    async def commit(self: Runner, **options: Any) -> None:
        nonlocal count
        await original(self, **options)
        count += 1
        if count == n:
            die()

    Runner.commit = commit  # type: ignore[method-assign]


def participant(db: Database, effects: Effects, kill: str, *, declined: bool = False) -> Any:
    async def act(data: Order, ctx: StepContext) -> None:
        if declined:
            raise Declined("card declined")
        async with db.transaction() as tx:
            if await tx.claim(SCOPE, ctx.idempotency_key):
                await effects.insert(tx, ctx.idempotency_key)
        if kill == f"effect:{ctx.step}:{ctx.kind}":
            die()

    return act


async def main(url: str, prefix: str, flow: str, kill: str) -> None:
    if kill.startswith("commit:"):
        kill_after_commit(int(kill.partition(":")[2]))
    async with Database(url, table=f"{prefix}_inbox", outbox_table=f"{prefix}_outbox") as db:
        effects = Effects(db, f"{prefix}_effects")
        await effects.create()
        retry = StepRetry(initial=0.01, max_attempts=3, timeout=10.0, non_retryable=(Declined,))
        saga = Saga("checkout", data=Order, store=db, retry=retry, table=f"{prefix}_sagas")
        undo = participant(db, effects, kill)
        saga.step(name="reserve", compensate=undo)(participant(db, effects, kill))
        saga.step(name="charge", compensate=undo)(participant(db, effects, kill))
        declined = flow == "compensate"
        saga.step(name="ship")(participant(db, effects, kill, declined=declined))
        async with SagaEngine([saga], owner="worker-1", poll=0.05) as engine:
            saga_id = await engine.start(saga, Order(), key="order-1")
            print(await engine.wait(saga_id), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
