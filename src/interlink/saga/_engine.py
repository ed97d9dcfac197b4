"""``SagaEngine``: starts sagas, drives them, and resumes the ones a crash left behind.

On start and every ``poll`` seconds (on its clock) it takes over active sagas whose lease ran
out (their worker died or stopped) and drives them on from their stored state: by step name,
so a saga started under an older definition goes on under the new one; one whose current step
no longer exists ends FAILED with an error naming that step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Self, TypeVar

import msgspec

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink._envelope import Envelope, new_id
from interlink._replies import reply_status
from interlink.resilience._config import Seconds, seconds
from interlink.saga import _operator as operator
from interlink.saga._commands import Replies, store_reply
from interlink.saga._errors import OwnershipLost, SagaError, SagaNotFound
from interlink.saga._runner import Runner
from interlink.saga._saga import Saga
from interlink.saga._state import (
    SagaState,
    SagaStatus,
    StepStatus,
    decode_state,
    encode_state,
)
from interlink.saga._store import SagaRow, SagaStore, store_for

if TYPE_CHECKING:
    from interlink._context import Context
    from interlink.messaging.inbox import Database
    from interlink.saga._runner import StepObserver

__all__ = ["SagaEngine"]

log = logging.getLogger("interlink.saga")
D = TypeVar("D")


class SagaEngine:
    """Runs ``sagas``; ``async with SagaEngine([checkout]) as engine:``.

    ``lease`` is how long a saga stays with this worker after its last write (plus the running
    attempt's timeout or the pending backoff) before another worker may take it over.
    ``owner`` names this worker (a new id by default); a restarted worker given the same name
    takes its own sagas back at once instead of waiting for their leases.
    ``poll=None`` resumes only on start and when asked (:meth:`resume_due`).
    ``context`` builds the App context a step's ``ctx.call`` uses (the App provides it).
    """

    def __init__(
        self,
        sagas: Sequence[Saga[Any]],
        *,
        clock: Clock = SYSTEM_CLOCK,
        lease: Seconds = 10.0,
        poll: Seconds | None = 1.0,
        owner: str | None = None,
        context: Callable[[str], Context] | None = None,
        observer: StepObserver | None = None,
    ) -> None:
        self.sagas = {saga.name: saga for saga in sagas}
        if len(self.sagas) != len(sagas):
            raise SagaError("two sagas have the same name")
        self.clock = clock
        self.lease = seconds(lease, "lease", positive=True)
        self.poll = None if poll is None else seconds(poll, "poll", positive=True)
        self.owner = owner or new_id()
        self._context = context
        self._observer = observer
        self._stores: dict[tuple[int, str], tuple[Database, SagaStore]] = {}
        for saga in sagas:
            db = saga.database
            self._stores.setdefault((id(db), saga.table), (db, store_for(db, table=saga.table)))
        self._running: dict[str, asyncio.Task[SagaStatus]] = {}
        self._runners: dict[str, Runner] = {}
        self._opened: list[Database] = []
        self._loop: asyncio.Task[None] | None = None
        self.replies = Replies()
        """Attempts waiting for their command's reply (see :meth:`on_reply`)."""

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        for db, store in self._stores.values():
            if not db.is_open and db not in self._opened:
                await db.open()
                self._opened.append(db)
            await store.setup()
        await self.resume_due()
        if self.poll is not None:
            self._loop = asyncio.create_task(self._resume_loop(self.poll), name="saga-resume")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop resuming; cancel forward runs (their sagas resume later, elsewhere) and let
        compensations finish."""
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            await asyncio.wait({loop})
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        # Compensations are shielded from the cancellation above: wait for them to end.
        undoing = [c for r in self._runners.values() if (c := r.compensation) is not None]
        if undoing:
            await asyncio.wait(undoing)
        self._runners.clear()
        for db in self._opened:
            await db.close()
        self._opened.clear()

    async def _resume_loop(self, poll: float) -> None:
        while True:
            await self.clock.sleep(poll)
            try:
                await self.resume_due()
            except Exception:
                log.exception("resuming due sagas failed; trying again in %gs", poll)

    # -- starting and resuming -------------------------------------------------------------

    async def start(self, saga: Saga[D], data: D, *, key: str | None = None) -> str:
        """Store a new saga and drive it in the background; returns its id once its state
        (with its first step begun) is committed. With ``key``, starting the same saga again
        returns the first one's id and starts nothing."""
        self._saga(saga.name)
        state = SagaState(data=msgspec.Raw(saga.codec.encode(data)))
        now = self.clock.time()
        row = SagaRow(
            id=new_id(),
            name=saga.name,
            key=key,
            status=str(SagaStatus.RUNNING),
            version=1,
            owner=self.owner,
            lease_until=now + self.lease,
            state=encode_state(state, limit=saga.max_state_bytes, saga=saga.name),
            created_at=now,
            updated_at=now,
        )
        runner = self._runner(saga, row, fresh=True)
        task = self._spawn(row.id, runner)
        saga_id = await runner.inserted
        if saga_id != row.id:
            await asyncio.wait({task})
        return saga_id

    async def run(self, saga: Saga[D], data: D, *, key: str | None = None) -> SagaStatus:
        """Start a saga and wait for this worker's run of it to end; its final status."""
        saga_id = await self.start(saga, data, key=key)
        task = self._running.get(saga_id)
        if task is None:  # a saga with this key existed and is not running here
            return SagaStatus((await self.get(saga_id)).status)
        return await asyncio.shield(task)

    async def resume(self, saga_id: str) -> bool:
        """Take ``saga_id`` over if it is active and nobody else holds it, and drive it."""
        if saga_id in self._running:
            return False
        for _, store in self._stores.values():
            now = self.clock.time()
            row = await store.acquire(
                saga_id, owner=self.owner, now=now, lease_until=now + self.lease
            )
            if row is not None:
                await self._drive(row)
                return True
        return False

    async def resume_due(self) -> int:
        """Resume every active saga whose lease ran out; returns how many this worker took."""
        taken = 0
        for _, store in self._stores.values():
            for saga_id in await store.due(now=self.clock.time(), owner=self.owner, limit=100):
                taken += await self.resume(saga_id)
        return taken

    async def wait(self, saga_id: str) -> SagaStatus:
        """Wait until this worker's run of ``saga_id`` ends; its final (or current) status."""
        task = self._running.get(saga_id)
        if task is not None:
            with contextlib.suppress(OwnershipLost):
                await asyncio.shield(task)
        return SagaStatus((await self.get(saga_id)).status)

    async def get(self, saga_id: str) -> SagaRow:
        for _, store in self._stores.values():
            row = await store.get(saga_id)
            if row is not None:
                return row
        raise SagaNotFound(f"no saga {saga_id!r}")

    async def retry(self, saga_id: str) -> bool:
        """Run ``saga_id`` again now (see :func:`interlink.saga._operator.retry`), here."""
        row = await self.get(saga_id)
        await operator.retry(self._store(self._saga(row.name)), saga_id, now=self.clock.time())
        return await self.resume(saga_id)

    async def abort(self, saga_id: str, *, reason: str = "by an operator") -> bool:
        """Compensate ``saga_id`` now instead of going on; driven here."""
        row = await self.get(saga_id)
        store = self._store(self._saga(row.name))
        await operator.abort(store, saga_id, now=self.clock.time(), reason=reason)
        return await self.resume(saga_id)

    async def data(self, saga: Saga[D], saga_id: str) -> D:
        """The saga's data as last committed (what its steps returned or changed)."""
        row = await self.get(saga_id)
        return saga.codec.decode(bytes(decode_state(row.state, saga=row.name).data))

    async def on_reply(self, reply: Envelope) -> bool:
        """Take a reply to one of this engine's commands (from ``sagas.{name}.replies``): to
        the attempt waiting for it, else into its saga's state for the next attempt. False for
        a late or duplicate reply (ignored)."""
        command_id = reply.causationid or ""
        if self.replies.deliver(command_id, reply_status(reply), bytes(reply.data)):
            return True
        saga_id = command_id.split(":", 1)[0]
        runner = self._runners.get(saga_id)
        if runner is not None:  # it runs here, between attempts: the next one uses it
            for st in runner.state.steps:
                for command in st.commands:
                    if command.id == command_id and command.status is None:
                        command.status, command.reply = reply_status(reply), reply.data
                        return True
        try:
            row = await self.get(saga_id)
        except SagaNotFound:
            return False
        saga = self._saga(row.name)
        now, limit = self.clock.time(), saga.max_state_bytes
        return await store_reply(self._store(saga), reply, now=now, limit=limit)

    async def _drive(self, row: SagaRow) -> None:
        saga = self.sagas.get(row.name)
        if saga is None:
            log.warning("saga %s: no definition named %r in this engine", row.id, row.name)
            return
        runner = self._runner(saga, row, fresh=False)
        missing = _missing_step(saga, runner.state)
        if missing is not None:
            runner.state.error = f"step {missing!r} no longer exists in saga {saga.name!r}"
            runner.state.failed_in = "definition"
            await runner.commit(status=SagaStatus.FAILED)
            return
        for st in runner.state.steps:
            if st.status == StepStatus.RUNNING:
                st.unknown = True  # its worker died mid-attempt: it may have run
        self._spawn(row.id, runner)

    def _runner(self, saga: Saga[Any], row: SagaRow, *, fresh: bool) -> Runner:
        context = None if self._context is None else self._context(saga.name)
        return Runner(
            saga,
            self._store(saga),
            row,
            fresh=fresh,
            clock=self.clock,
            lease=self.lease,
            context=context,
            replies=self.replies,
            observer=self._observer,
        )

    def _spawn(self, saga_id: str, runner: Runner) -> asyncio.Task[SagaStatus]:
        task = asyncio.create_task(runner.run(), name=f"saga:{saga_id}")
        self._running[saga_id] = task
        self._runners[saga_id] = runner
        task.add_done_callback(lambda t: self._ended(saga_id, t))
        return task

    def _ended(self, saga_id: str, task: asyncio.Task[SagaStatus]) -> None:
        if self._running.get(saga_id) is task:
            del self._running[saga_id]
            runner = self._runners.get(saga_id)
            if runner is not None and (runner.compensation is None or runner.compensation.done()):
                del self._runners[saga_id]
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, OwnershipLost):
            log.info("saga %s: another worker took it over", saga_id)
        elif error is not None:
            log.error("saga %s: stopped by an error", saga_id, exc_info=error)

    def _store(self, saga: Saga[Any]) -> SagaStore:
        return self._stores[id(saga.database), saga.table][1]

    def _saga(self, name: str) -> Saga[Any]:
        saga = self.sagas.get(name)
        if saga is None:
            raise SagaError(f"saga {name!r} is not registered with this engine")
        return saga


def _missing_step(saga: Saga[Any], state: SagaState) -> str | None:
    """The current step or a step still to compensate that the definition no longer has."""
    names = {step.name for step in saga.steps}
    if state.cursor is not None and state.cursor not in names:
        return state.cursor
    for st in state.steps:
        if st.name not in names and st.needs_compensation and st.compensation != StepStatus.DONE:
            return st.name
    return None
