"""Rate-limit algorithms and the in-process store that runs them.

Two algorithms, both deciding one request at a time:

* token bucket: ``limit`` tokens at most, refilled continuously at ``limit / per`` per second;
  a request takes one. Bursts up to ``limit``, then a steady ``limit / per`` rate.
* sliding window (a sliding log): the times of the requests allowed in the last ``per``
  seconds are kept, and a request is allowed while fewer than ``limit`` are. Exact: no window
  of ``per`` seconds ever holds more than ``limit`` allowed requests. Memory grows with
  ``limit`` (one timestamp per allowed request per key).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Literal, Protocol

from interlink._clock import SYSTEM_CLOCK, Clock

__all__ = ["Algorithm", "Decision", "LocalStore", "RateStore", "StoreUnavailable"]

Algorithm = Literal["token_bucket", "sliding_window"]


@dataclass(frozen=True, slots=True)
class Decision:
    """One request's verdict. ``reset``: seconds until the quota is fully back (token bucket)
    or until the oldest counted request leaves the window (sliding window); ``retry_after``:
    seconds until a request would be allowed (0 when this one was)."""

    allowed: bool
    remaining: int
    reset: float
    retry_after: float


class StoreUnavailable(Exception):
    """A shared store could not decide (down, timed out)."""


class RateStore(Protocol):
    """Where counts live; one atomic decision per call."""

    async def acquire(self, key: str, algorithm: Algorithm, limit: int, per: float) -> Decision: ...

    async def aclose(self) -> None: ...


class LocalStore:
    """Counts in this process, for at most ``max_keys`` keys (least recently used evicted;
    an evicted key starts afresh). Decisions take no await, so they are atomic on the loop."""

    def __init__(self, *, max_keys: int = 10_000, clock: Clock = SYSTEM_CLOCK) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self.clock = clock
        self._states: OrderedDict[str, list[float] | deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    async def acquire(self, key: str, algorithm: Algorithm, limit: int, per: float) -> Decision:
        return self.decide(key, algorithm, limit, per)

    def decide(self, key: str, algorithm: Algorithm, limit: int, per: float) -> Decision:
        now = self.clock.monotonic()
        state = self._states.get(key)
        if state is None:
            state = [float(limit), now] if algorithm == "token_bucket" else deque(maxlen=limit)
            self._states[key] = state
            if len(self._states) > self.max_keys:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(key)
        if isinstance(state, list):
            return _bucket(state, limit, limit / per, now)
        return _window(state, limit, per, now)

    async def aclose(self) -> None:
        self._states.clear()


def _bucket(state: list[float], limit: int, rate: float, now: float) -> Decision:
    tokens = min(float(limit), state[0] + (now - state[1]) * rate)
    allowed = tokens >= 1.0
    if allowed:
        tokens -= 1.0
    state[0], state[1] = tokens, now
    return bucket_decision(allowed, tokens, limit, rate)


def bucket_decision(allowed: bool, tokens: float, limit: int, rate: float) -> Decision:
    retry = 0.0 if allowed else (1.0 - tokens) / rate
    return Decision(allowed, math.floor(tokens), (limit - tokens) / rate, retry)


def _window(log: deque[float], limit: int, per: float, now: float) -> Decision:
    while log and log[0] <= now - per:
        log.popleft()
    allowed = len(log) < limit
    if allowed:
        log.append(now)
    reset = log[0] + per - now if log else 0.0
    return Decision(allowed, limit - len(log), reset, 0.0 if allowed else reset)
