"""A saga whose starter does not wait for it: its steps are handlers of the starting service."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

import interlink as il
from tests.unit.doctor import systems


class Data(BaseModel):
    n: int = 0


flow = il.Saga("flow", data=Data, store=il.Database("sqlite:///unused-doctor-fixture.db"))


@flow.step(retry=il.StepRetry(max_attempts=5))
async def first(data: Data, sctx: il.StepContext) -> None:
    # The step's context parameter has its own name; the target is an Rpc reached by attribute.
    await sctx.app().call(systems.ask, systems.Ping())


@flow.step
async def second(data: Data, sctx: il.StepContext) -> None:
    await sctx.send("billing.charge", systems.Ping(), returns=None)


starter = il.Service("starter")


@starter.rpc
async def begin(req: Data, ctx: il.Context) -> None:
    await ctx.sagas.start(flow, req, key="k")


def app(**options: Any) -> il.App:
    return il.App([starter, systems.quotes], sagas=[flow], **options)
