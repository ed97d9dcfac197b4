"""One member's ``max_in_flight``, shared by the pull consumers it reads (its *lanes*).

A member of a group reads the group's consumer of unkeyed messages and one consumer per
partition. What JetStream may have handed this member and not had settled is what its open
pull requests may still deliver plus what was delivered and not yet acked, nacked or
terminated (buffered here or handed to the runtime):

Invariant: ``sum(lane.asked + lane.taken) <= limit``.

A lane has at most one pull request open. A partition lane asks for one message, and only
while nothing of it is taken: JetStream would not hand out another (``max_ack_pending=1``).

When the free credit covers every lane that wants a pull, each waits on the server (a long
poll): one message for each partition, the rest for the unkeyed lane. A partition's poll
lapses after ``PARTITION_POLL`` seconds, so credit idle partitions hold comes back soon when
unkeyed work needs it. When it does not, the
lanes take turns, in rotation, with *probes* (``no_wait``): answered at once with what the
consumer has, so no lane holds credit idle while another has work. A lane whose probe found
nothing rests for ``QUIET`` seconds, so an idle member does not spin; credit left over while
the others rest lets the unkeyed lane wait on the server for that long (so an idle member
still takes its share of a burst). A probe of a partition whose message is with another
member waits until that one is settled (JetStream ends a ``no_wait`` request early only when
the consumer has nothing at all); its credit then waits for real work.

A request lost to a reconnect is never answered: requests from before the connection's last
reconnect are forgotten, as is a long poll still open well past its expiry.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["GRACE", "LONG_POLL", "PARTITION_POLL", "QUIET", "Credit", "Lane", "Pull"]

LONG_POLL = 5.0
"""Seconds the unkeyed lane's pull request waits on the server before it lapses (408)."""
PARTITION_POLL = 1.0
"""Seconds a partition's pull request waits on the server before it lapses."""
QUIET = 0.5
"""Seconds a lane rests after a probe found nothing, or after the server refused a request."""
GRACE = 1.0
"""Seconds past its expiry after which a request the server never ended is forgotten."""


@dataclass(eq=False, slots=True)
class Lane:
    """One pull consumer of one member."""

    consumer: str
    partition: bool
    asked: int = 0
    """What the open request may still deliver."""
    taken: int = 0
    """Delivered and not yet settled."""
    request: str = ""
    """The open request's token; empty when none is open."""
    batch: int = 0
    probe: bool = False
    epoch: int = 0
    """The connection's reconnect count when the open request was sent."""
    forget_at: float = 0.0
    quiet_until: float = 0.0

    def wants(self) -> bool:
        return not self.request and not (self.partition and self.taken)


@dataclass(frozen=True, slots=True)
class Pull:
    lane: Lane
    batch: int
    expires: float | None
    """Seconds it may wait on the server; ``None`` for a probe (``no_wait``)."""


class Credit:
    """Decides which lane asks the server for how many messages, and how."""

    def __init__(self, lanes: Sequence[Lane], limit: int) -> None:
        self.limit = limit
        self.lanes = {lane.consumer: lane for lane in lanes}
        self._unkeyed = next((lane for lane in lanes if not lane.partition), None)
        self._rotation = deque(lanes)
        self._open: dict[str, Lane] = {}
        self._tokens = itertools.count()

    @property
    def held(self) -> int:
        return sum(lane.asked + lane.taken for lane in self._rotation)

    def plan(self, now: float, epoch: int) -> list[Pull]:
        """The pull requests to send now (already counted as asked)."""
        free = self.limit - self.held
        wanting = [lane for lane in self._rotation if lane.wants()]
        ready = [lane for lane in wanting if lane.quiet_until <= now]
        if free >= len(wanting):
            return self._turns(ready, free, len(wanting), True, now, epoch)
        pulls = self._turns(ready, free, len(ready), False, now, epoch)
        free -= sum(pull.batch for pull in pulls)
        idle = self._unkeyed
        if free > 0 and idle is not None and idle.wants():
            pulls.append(self._open_request(idle, free, QUIET, now, epoch))
        return pulls

    def _turns(
        self,
        lanes: list[Lane],
        free: int,
        claimants: int,
        poll: bool,
        now: float,
        epoch: int,
    ) -> list[Pull]:
        """Partitions one message each; the unkeyed lane what the other claimants leave.
        Long polls if ``poll``, else probes."""
        pulls: list[Pull] = []
        for lane in lanes:
            if free <= 0:
                break
            claimants -= 1
            batch = 1 if lane.partition else max(1, free - claimants)
            expires = (PARTITION_POLL if lane.partition else LONG_POLL) if poll else None
            pulls.append(self._open_request(lane, batch, expires, now, epoch))
            free -= batch
        return pulls

    def _open_request(
        self, lane: Lane, batch: int, expires: float | None, now: float, epoch: int
    ) -> Pull:
        lane.request = f"p{next(self._tokens)}"
        lane.asked = lane.batch = batch
        lane.probe, lane.epoch = expires is None, epoch
        lane.forget_at = math.inf if expires is None else now + expires + GRACE
        self._open[lane.request] = lane
        self._rotation.remove(lane)
        self._rotation.append(lane)
        return Pull(lane, batch, expires)

    def delivered(self, lane: Lane) -> None:
        """A message of ``lane`` arrived: it answers the lane's open request, if one is."""
        lane.taken += 1
        lane.quiet_until = 0.0
        if lane.asked:
            lane.asked -= 1
            if not lane.asked:
                self._close(lane)

    def ended(self, request: str, status: str, now: float) -> None:
        """The server ended a request early: nothing (more) for it (404, 408), or refused it."""
        lane = self._open.get(request)
        if lane is None:
            return
        refused = status not in ("404", "408")
        if refused or (lane.probe and lane.asked == lane.batch):
            lane.quiet_until = now + QUIET
        self._close(lane)

    def settled(self, lane: Lane, count: int = 1) -> None:
        lane.taken = max(0, lane.taken - count)

    def forget_lost(self, now: float, epoch: int) -> None:
        """Requests the server will never end (a reconnect lost them) deliver nothing more."""
        for lane in [o for o in self._open.values() if now >= o.forget_at or o.epoch != epoch]:
            self._close(lane)

    def wake_at(self, now: float) -> float:
        """When the plan may change without any message arriving."""
        times = [lane.forget_at for lane in self._open.values()]
        times += [lane.quiet_until for lane in self._rotation if lane.quiet_until > now]
        return min(times, default=now + LONG_POLL)

    def _close(self, lane: Lane) -> None:
        self._open.pop(lane.request, None)
        lane.request, lane.asked = "", 0
