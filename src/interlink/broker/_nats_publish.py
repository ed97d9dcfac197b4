"""JetStream publishes awaiting their acknowledgements."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from interlink._errors import PublishError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = ["PubAcks", "PublishStalls"]

_log = logging.getLogger("interlink.broker.nats")
_FIRST_PAUSE, _MAX_PAUSE = 0.05, 0.25
_CLUSTER_NOT_AVAILABLE = 10008
"""JetStream's "JetStream system temporarily unavailable" (JSClusterNotAvailErr)."""


class PubAcks:
    """JetStream publishes awaiting their acks on one wildcard inbox, matched by a counter.

    ``js.publish`` does the same through ``nc.request``, at a NUID, ``wait_for`` and a PubAck
    dataclass per message; this keeps only a future. Every publish waits the same ``timeout``,
    so their deadlines come in the order they were sent: one loop timer, armed for the oldest
    one still waiting, expires them all (no timer per publish).
    """

    def __init__(
        self,
        nc: Client,
        timeout: float,
        *,
        resend_for: float | None = None,
        stalls: PublishStalls | None = None,
    ) -> None:
        self._nc = nc
        self._timeout = timeout
        self._resend_for = resend_for
        self.resends = resend_for is not None
        self.stalls = PublishStalls() if stalls is None else stalls
        self._prefix = f"{nc.new_inbox()}."
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._tokens = itertools.count()
        self._deadlines: deque[tuple[float, asyncio.Future[Msg]]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    async def open(self) -> None:
        await self._nc.subscribe(f"{self._prefix}*", cb=self._on_ack)

    async def publish(self, subject: str, body: bytes, headers: dict[str, str] | None) -> None:
        """Return once JetStream stored the message; else raise :class:`PublishError`, with
        ``maybe_stored`` set when the message went out and no answer came back.

        With ``resend_for`` set (a cluster), a publish that found no stream leader or got no
        answer is sent again, with the same headers (so the same ``Nats-Msg-Id``: the
        duplicate window drops a second copy), until the leader answers or ``resend_for``
        seconds have passed since the first send."""
        if self._resend_for is None:
            await self._attempt(subject, body, headers)
            return
        loop = asyncio.get_running_loop()
        first = loop.time()
        give_up, pause, in_doubt, resent = first + self._resend_for, _FIRST_PAUSE, False, False
        while True:
            try:
                await self._attempt(subject, body, headers)
            except _Unanswered as exc:
                in_doubt, resent = in_doubt or exc.maybe_stored, True
                if loop.time() + pause >= give_up:
                    raise PublishError(
                        f"no JetStream leader stored {subject!r} within {self._resend_for}s",
                        maybe_stored=in_doubt,
                    ) from exc
                await asyncio.sleep(pause)  # a backoff between resends, not a wait for a state
                pause = min(pause * 2, _MAX_PAUSE)
                continue
            if resent:
                self.stalls.recovered(first, loop.time())
            return

    async def _attempt(self, subject: str, body: bytes, headers: dict[str, str] | None) -> None:
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
            except nats.errors.ConnectionClosedError as exc:
                raise PublishError(f"could not send to {subject!r}: {exc!r}") from exc
            except nats.errors.Error as exc:
                raise _Unanswered(f"could not send to {subject!r}: {exc!r}") from exc
            try:
                ack = await future
            except TimeoutError:
                raise _Unanswered(
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


@dataclass(slots=True)
class PublishStalls:
    """Publishes held up by a cluster's leader election, and for how long.

    A stall is counted (and logged once, as a warning) when the first publish that had to be
    resent is stored; publishes resent in the same outage add to ``resent`` and ``longest``.
    """

    stalls: int = 0
    """Outages publishes were held up by."""
    resent: int = 0
    """Publishes stored after being sent more than once."""
    longest: float = 0.0
    """The longest one publish waited, from its first send to its acknowledgement (s)."""
    last: float = 0.0
    """How long the first publish stored after the latest stall waited (s)."""
    _ended: float = float("-inf")

    def recovered(self, first: float, now: float) -> None:
        waited = now - first
        self.resent += 1
        self.longest = max(self.longest, waited)
        if first >= self._ended:  # sent after the last stall ended: a new one
            self.stalls += 1
            self.last = waited
            _log.warning(
                "NATS publishes stalled %.2fs with no stream leader; resent with their message ids",
                waited,
            )
        self._ended = now


class _Unanswered(PublishError):
    """No stream leader took the message (none elected yet, or the answer was lost): on a
    cluster, worth sending again."""


def _check_ack(msg: Msg, subject: str) -> None:
    """A PubAck is ``{"stream": ..., "seq": ...}``; anything else is a refusal, except "no
    responders" (no stream, or its leader is being elected) and JetStream's "temporarily
    unavailable". Other 503 errors (a full stream: "maximum bytes exceeded") are refusals."""
    if msg.headers and msg.headers.get("Status") == "503":
        raise _Unanswered(f"no JetStream stream (or stream leader) stores {subject!r}")
    if b'"error"' in msg.data:
        error = json.loads(msg.data).get("error")
        if error and error.get("err_code") == _CLUSTER_NOT_AVAILABLE:
            raise _Unanswered(f"JetStream is unavailable for {subject!r}: {error}")
        if error:
            raise PublishError(f"JetStream refused a message for {subject!r}: {error}")
