"""``Saga``: a named, ordered list of steps over a typed data model.

A step is a plain async function ``(data, ctx) -> data | None`` (it may call an RPC, or send a
command and wait for its reply); returning a new data object replaces the saga's data. Steps
follow the classic shape: compensatable steps, at most one pivot (the point of no return), then
retriable steps, which are retried until they succeed and are never compensated. Consecutive
steps declared with the same ``parallel=`` name run together.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from interlink._codec import Codec, codec_for
from interlink._errors import DefinitionError
from interlink.saga._policy import StepRetry

if TYPE_CHECKING:
    from interlink.messaging.inbox import Database
    from interlink.saga._context import StepContext

__all__ = ["Saga", "Step", "StepKind"]

D = TypeVar("D")
Action = Callable[[Any, "StepContext"], Awaitable[Any]]

DEFAULT_RETRY = StepRetry()
MAX_STATE_BYTES = 256 * 1024


class StepKind(enum.StrEnum):
    COMPENSATABLE = "compensatable"
    PIVOT = "pivot"
    RETRIABLE = "retriable"


@dataclass(frozen=True, kw_only=True, slots=True)
class Step:
    name: str
    action: Action
    compensate: Action | None
    kind: StepKind
    retry: StepRetry
    parallel: str | None


class Saga(Generic[D]):
    """``checkout = Saga("checkout", data=Checkout, store=db)``, then declare its steps::

        @checkout.step(compensate=release_stock)
        async def reserve_stock(data: Checkout, ctx: StepContext) -> None: ...

        @checkout.step(pivot=True, retry=StepRetry(max_attempts=5))
        async def charge(data: Checkout, ctx: StepContext) -> None: ...

        @checkout.step(retriable=True)
        async def ship(data: Checkout, ctx: StepContext) -> None: ...

    ``store`` is the :class:`~interlink.Database` whose transactions hold the saga's state (and
    its inbox and outbox), in ``table``. ``max_state_bytes`` bounds the serialized state:
    a bigger one is refused with :class:`~interlink.saga.SagaDataTooLarge` when written.
    """

    def __init__(
        self,
        name: str,
        *,
        data: type[D],
        store: Database,
        retry: StepRetry = DEFAULT_RETRY,
        max_state_bytes: int = MAX_STATE_BYTES,
        table: str = "interlink_sagas",
    ) -> None:
        if not name:
            raise DefinitionError("a saga needs a name")
        self.name = name
        self.data_type = data
        self.codec: Codec[D] = codec_for(data)
        self.database = store
        self.retry = retry
        self.max_state_bytes = max_state_bytes
        self.table = table
        self.steps: list[Step] = []

    def step(
        self,
        fn: Action | None = None,
        /,
        *,
        name: str | None = None,
        compensate: Action | None = None,
        pivot: bool = False,
        retriable: bool = False,
        retry: StepRetry | None = None,
        parallel: str | None = None,
    ) -> Any:
        """Declare the next step (see the class docstring)."""

        def declare(action: Action) -> Action:
            kind = _kind(pivot=pivot, retriable=retriable)
            step = Step(
                name=name or str(getattr(action, "__name__", "")),
                action=action,
                compensate=compensate,
                kind=kind,
                retry=retry or self.retry,
                parallel=parallel,
            )
            self._check(step)
            self.steps.append(step)
            return action

        return declare if fn is None else declare(fn)

    def _check(self, step: Step) -> None:
        where = f"saga {self.name!r}, step {step.name!r}"
        if not step.name or any(s.name == step.name for s in self.steps):
            raise DefinitionError(f"{where}: step names must be unique and not empty")
        if step.kind is not StepKind.COMPENSATABLE and step.compensate is not None:
            raise DefinitionError(f"{where}: a {step.kind} step cannot have a compensation")
        if step.kind is not StepKind.COMPENSATABLE and step.parallel is not None:
            raise DefinitionError(f"{where}: only compensatable steps run in parallel groups")
        late = any(s.kind is not StepKind.COMPENSATABLE for s in self.steps)
        if late and step.kind is not StepKind.RETRIABLE:
            raise DefinitionError(f"{where}: after a pivot or retriable step, steps are retriable")

    def stages(self) -> list[list[Step]]:
        """The steps in order, consecutive steps of one ``parallel`` group together."""
        stages: list[list[Step]] = []
        for step in self.steps:
            if stages and step.parallel is not None and stages[-1][0].parallel == step.parallel:
                stages[-1].append(step)
            else:
                stages.append([step])
        return stages

    def get(self, name: str) -> Step | None:
        for step in self.steps:
            if step.name == name:
                return step
        return None

    def __repr__(self) -> str:
        return f"Saga({self.name!r}, steps={[s.name for s in self.steps]})"


def _kind(*, pivot: bool, retriable: bool) -> StepKind:
    if pivot and retriable:
        raise DefinitionError("a step is either the pivot or retriable, not both")
    if pivot:
        return StepKind.PIVOT
    return StepKind.RETRIABLE if retriable else StepKind.COMPENSATABLE
