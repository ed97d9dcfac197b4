"""``ctx.transaction()`` for a subscriber with ``inbox=db``: the handler's writes, the record
that this message was processed, and the events it published commit together, or not at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from interlink.messaging import AlreadyProcessed

if TYPE_CHECKING:
    from interlink._context import Context
    from interlink._envelope import Envelope
    from interlink.messaging.inbox import Database

__all__ = ["InboxRun"]


class InboxRun:
    """One handler run of one message under an inbox.

    The handler may open :meth:`transaction` once. If it never does, :meth:`finish` records the
    message (and writes the held-back events as outbox rows) in a transaction of its own after
    the handler returned.

    Invariant (replies commit with the effect): for a command that names a reply topic
    (``replyto``), the transaction the handler opened is not committed when its block ends but
    by :meth:`finish`, after the handler returned, together with the reply event; a handler that
    fails after its block rolls it back (:meth:`abort`). So a participant that crashes at any
    point either did nothing or did the work *and* stored its reply.
    """

    def __init__(
        self, db: Database, scope: str, envelope: Envelope, wake: Callable[[], None]
    ) -> None:
        self._db = db
        self._scope = scope
        self._id = envelope.id
        self._wake = wake
        self._opened = False
        self._holds = envelope.replyto is not None
        self._held: tuple[contextlib.AsyncExitStack, Any] | None = None

    @contextlib.asynccontextmanager
    async def transaction(self, ctx: Context) -> AsyncIterator[Any]:
        if self._opened:
            raise RuntimeError("ctx.transaction() can be opened once per message")
        self._opened = True
        if self._holds:
            async with self._held_open() as connection:
                yield connection
            return
        async with self._db.transaction() as tx:
            await self._claim(tx)
            yield tx.connection
            # Only on a normal exit: the events published so far commit with the writes.
            for topic, envelope in ctx.take_deferred():
                await tx.add_event(envelope, topic=topic)
        self._wake()

    @contextlib.asynccontextmanager
    async def _held_open(self) -> AsyncIterator[Any]:
        stack = contextlib.AsyncExitStack()
        tx = await stack.enter_async_context(self._db.transaction())
        try:
            await self._claim(tx)
            yield tx.connection
        except BaseException as exc:
            await stack.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        self._held = (stack, tx)

    async def _claim(self, tx: Any) -> None:
        if not await tx.claim(self._scope, self._id):
            raise AlreadyProcessed(f"{self._id} was processed already in {self._scope}")

    async def finish(self, ctx: Context) -> None:
        """After a handler that returned normally: record it, if its transaction did not;
        commit a held-open transaction with the events held back (the reply among them)."""
        if self._held is not None:
            (stack, tx), self._held = self._held, None
            try:
                for topic, envelope in ctx.take_deferred():
                    await tx.add_event(envelope, topic=topic)
            except BaseException as exc:
                await stack.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            await stack.aclose()
            self._wake()
            return
        if self._opened:
            return
        async with self.transaction(ctx):
            pass

    async def abort(self) -> None:
        """The handler failed after its transaction's block: roll the held-open one back."""
        if self._held is not None:
            (stack, _), self._held = self._held, None
            error = RuntimeError("the handler failed after its transaction")
            await stack.__aexit__(RuntimeError, error, None)
