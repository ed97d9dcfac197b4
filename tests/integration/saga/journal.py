"""A recording participant for saga tests: every action and compensation it saw, with its key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from interlink.saga import StepContext
from interlink.testing import FakeClock


class Order(BaseModel):
    order_id: str = "o-1"
    notes: list[str] = []


class Declined(Exception):
    """A permanent failure (listed in the tests' ``non_retryable``)."""


class Flaky(Exception):
    """A transient failure."""


@dataclass
class Journal:
    clock: FakeClock
    entries: list[tuple[str, str, int, str, float]] = field(default_factory=list)
    """(step, kind, attempt, idempotency key, clock time)."""

    def record(self, ctx: StepContext) -> None:
        self.entries.append(
            (ctx.step, ctx.kind, ctx.attempt, ctx.idempotency_key, self.clock.monotonic())
        )

    def calls(self, kind: str | None = None) -> list[str]:
        return [step for step, k, *_ in self.entries if kind is None or k == kind]

    def of(self, step: str, kind: str = "action") -> list[tuple[str, str, int, str, float]]:
        return [e for e in self.entries if e[0] == step and e[1] == kind]

    def ok(self) -> Callable[[Order, StepContext], Any]:
        async def action(data: Order, ctx: StepContext) -> None:
            self.record(ctx)
            data.notes.append(f"{ctx.step}:{ctx.kind}")

        return action

    def failing(self, error: Exception, times: int = 1_000_000) -> Callable[..., Any]:
        """Raise ``error`` on the first ``times`` attempts, then succeed."""

        async def action(data: Order, ctx: StepContext) -> None:
            self.record(ctx)
            if ctx.attempt <= times:
                raise error
            data.notes.append(f"{ctx.step}:{ctx.kind}")

        return action
