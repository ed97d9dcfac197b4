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
    """

    def __init__(
        self, db: Database, scope: str, envelope: Envelope, wake: Callable[[], None]
    ) -> None:
        self._db = db
        self._scope = scope
        self._id = envelope.id
        self._wake = wake
        self._opened = False

    @contextlib.asynccontextmanager
    async def transaction(self, ctx: Context) -> AsyncIterator[Any]:
        if self._opened:
            raise RuntimeError("ctx.transaction() can be opened once per message")
        self._opened = True
        async with self._db.transaction() as tx:
            if not await tx.claim(self._scope, self._id):
                raise AlreadyProcessed(f"{self._id} was processed already in {self._scope}")
            yield tx.connection
            # Only on a normal exit: the events published so far commit with the writes.
            for topic, envelope in ctx.take_deferred():
                await tx.add_event(envelope, topic=topic)
        self._wake()

    async def finish(self, ctx: Context) -> None:
        """After a handler that returned normally: record it, if its transaction did not."""
        if self._opened:
            return
        async with self.transaction(ctx):
            pass
