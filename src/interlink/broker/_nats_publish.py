"""JetStream publishes awaiting their acknowledgements."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from typing import TYPE_CHECKING

from interlink._errors import PublishError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["PubAcks"]


class PubAcks:
    """JetStream publishes awaiting their acks on one wildcard inbox, matched by a counter.

    ``js.publish`` does the same through ``nc.request``, at a NUID, ``wait_for`` and a PubAck
    dataclass per message; this keeps only a future. Every publish waits the same ``timeout``,
    so their deadlines come in the order they were sent: one loop timer, armed for the oldest
    one still waiting, expires them all (no timer per publish).
    """

    def __init__(self, nc: Client, timeout: float) -> None:
        self._nc = nc
        self._timeout = timeout
        self._prefix = f"{nc.new_inbox()}."
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._tokens = itertools.count()
        self._deadlines: deque[tuple[float, asyncio.Future[Msg]]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    async def open(self) -> None:
        await self._nc.subscribe(f"{self._prefix}*", cb=self._on_ack)

    async def publish(self, subject: str, body: bytes, headers: dict[str, str] | None) -> None:
        """Return once JetStream stored the message; else raise :class:`PublishError`, with
        ``maybe_stored`` set when the message went out and no answer came back."""
        import nats.errors

        loop = asyncio.get_running_loop()
        token = str(next(self._tokens))
        future = self._waiting[token] = loop.create_future()
        expires = loop.time() + self._timeout
        self._deadlines.append((expires, future))
        if self._timer is None:
            self._timer = loop.call_at(expires, self._expire_due)
        try:
            try:
                await self._nc.publish(subject, body, reply=self._prefix + token, headers=headers)
            except nats.errors.Error as exc:
                raise PublishError(f"could not send to {subject!r}: {exc!r}") from exc
            try:
                ack = await future
            except TimeoutError:
                raise PublishError(
                    f"no acknowledgement from JetStream for {subject!r} within {self._timeout}s",
                    maybe_stored=True,
                ) from None
            _check_ack(ack, subject)
        finally:
            if not future.done():
                future.cancel()
            self._waiting.pop(token, None)
            deadlines = self._deadlines
            while deadlines and deadlines[0][1].done():  # answered mostly in order: cheap
                deadlines.popleft()

    def _expire_due(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = None
        deadlines, now = self._deadlines, loop.time()
        while deadlines and (deadlines[0][1].done() or deadlines[0][0] <= now):
            _expire(deadlines.popleft()[1])
        if deadlines:
            self._timer = loop.call_at(deadlines[0][0], self._expire_due)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _on_ack(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject[len(self._prefix) :], None)
        if future is not None and not future.done():
            future.set_result(msg)


def _expire(future: asyncio.Future[Msg]) -> None:
    if not future.done():
        future.set_exception(TimeoutError("no acknowledgement from JetStream"))


def _check_ack(msg: Msg, subject: str) -> None:
    """A PubAck is ``{"stream": ..., "seq": ...}``; anything else is a refusal."""
    if msg.headers and msg.headers.get("Status") == "503":
        raise PublishError(f"no JetStream stream stores {subject!r}")
    if b'"error"' in msg.data:
        error = json.loads(msg.data).get("error")
        if error:
            raise PublishError(f"JetStream refused a message for {subject!r}: {error}")
