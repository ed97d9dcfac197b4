"""What an operator does to a stored saga: retry it, or abort it (compensate now).

Both are fenced writes like any other (a worker still holding the saga loses its next write and
stops); they hand the saga to whichever engine resumes it next, at once (``lease_until`` now).
"""

from __future__ import annotations

import msgspec

from interlink.saga._errors import SagaError, SagaNotFound
from interlink.saga._state import SagaState, SagaStatus, StepStatus, decode_state
from interlink.saga._store import SagaRow, SagaStore

__all__ = ["abort", "retry"]


async def retry(store: SagaStore, saga_id: str, *, now: float) -> SagaRow:
    """Run a saga again now: an active one at once; a FAILED one from where it failed (its
    failed compensation, or its failed step) with fresh attempts."""
    row, state = await _load(store, saga_id)
    status = SagaStatus(row.status)
    if status is SagaStatus.FAILED:
        status = _reopen(state)
    elif not status.active:
        raise SagaError(f"saga {saga_id} is {row.status}: there is nothing to retry")
    return await _write(store, row, state, status, now)


async def abort(store: SagaStore, saga_id: str, *, now: float, reason: str) -> SagaRow:
    """Stop going forward and compensate what was done (a step in flight counts as done)."""
    row, state = await _load(store, saga_id)
    if row.status != SagaStatus.RUNNING:
        raise SagaError(f"saga {saga_id} is {row.status}: only a RUNNING saga can be aborted")
    if state.committed:
        raise SagaError(f"saga {saga_id} is past its pivot: it can only go forward")
    for step in state.steps:
        if step.status in (StepStatus.RUNNING, StepStatus.RETRYING):
            step.unknown = step.unknown or step.attempts > 0
            step.status, step.next_at = StepStatus.FAILED, None
    state.error = f"aborted: {reason}"
    return await _write(store, row, state, SagaStatus.COMPENSATING, now)


def _reopen(state: SagaState) -> SagaStatus:
    if state.failed_in == "definition":
        raise SagaError(f"cannot retry: {state.error} (deploy a definition that has it)")
    undoing = state.failed_in == "compensate"
    for step in state.steps:
        if undoing and step.compensation == StepStatus.FAILED:
            step.compensation = StepStatus.PENDING
        if not undoing and step.status == StepStatus.FAILED:
            step.status, step.attempts = StepStatus.PENDING, 0
        step.next_at = None
    state.failed_in = None
    return SagaStatus.COMPENSATING if undoing else SagaStatus.RUNNING


async def _load(store: SagaStore, saga_id: str) -> tuple[SagaRow, SagaState]:
    row = await store.get(saga_id)
    if row is None:
        raise SagaNotFound(f"no saga {saga_id!r}")
    return row, decode_state(row.state, saga=row.name)


async def _write(
    store: SagaStore, row: SagaRow, state: SagaState, status: SagaStatus, now: float
) -> SagaRow:
    new = row.evolve(
        status=str(status),
        version=row.version + 1,
        owner=None,
        lease_until=now,
        state=msgspec.json.encode(state),
        updated_at=now,
    )
    await store.update(new, expected=row.version)
    return new
