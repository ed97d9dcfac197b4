"""The circuit breaker's state machine: permits, recording, judging and transitions.

asyncio runs one coroutine at a time, so every change below happens synchronously between two
awaits and needs no lock.

Invariants: ``_metrics`` is the recorder of the current state (OPEN keeps the one of the state
that opened it); ``_admit_all`` is True exactly in CLOSED, DISABLED and METRICS_ONLY; a timer
task acts only if ``_generation`` has not moved since it was scheduled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from interlink.resilience._events import EventKind
from interlink.resilience._link import PolicyBase
from interlink.resilience._state import BreakerState
from interlink.resilience._window import (
    FAILED,
    SLOW,
    CountWindow,
    Recorder,
    TimeWindow,
)

__all__ = ["BreakerMachine"]

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
DISABLED, FORCED_OPEN = BreakerState.DISABLED, BreakerState.FORCED_OPEN
METRICS_ONLY = BreakerState.METRICS_ONLY


class BreakerMachine(PolicyBase):
    """The mechanics under :class:`CircuitBreaker`, which validates and sets these fields."""

    __slots__ = (
        "_admit_all",
        "_auto_half_open",
        "_exceeded",
        "_failure_rate",
        "_generation",
        "_half_open_calls",
        "_half_open_max_wait",
        "_half_open_until",
        "_ignore",
        "_judge_successes",
        "_metrics",
        "_minimum_calls",
        "_monotonic",
        "_open_count",
        "_open_until",
        "_permits",
        "_record",
        "_slow_call_duration",
        "_slow_call_rate",
        "_state",
        "_timeout_state",
        "_timer",
        "_wait_in_open",
        "_window",
    )

    _admit_all: bool
    _auto_half_open: bool
    _exceeded: int
    _failure_rate: float
    _generation: int
    _half_open_calls: int
    _half_open_max_wait: float | None
    _half_open_until: float
    _judge_successes: bool
    _metrics: Recorder
    _minimum_calls: int
    _monotonic: Callable[[], float]
    _open_count: int
    _open_until: float
    _permits: int
    _slow_call_duration: float
    _slow_call_rate: float
    _state: BreakerState
    _timeout_state: BreakerState
    _timer: asyncio.Task[None] | None
    _wait_in_open: Callable[[int], float]
    _window: CountWindow | TimeWindow

    def _acquire_guarded(self) -> bool:
        state = self._state
        if state is OPEN and self._monotonic() >= self._open_until:
            self._enter(HALF_OPEN)
        elif (
            state is HALF_OPEN
            and self._half_open_max_wait is not None
            and self._monotonic() >= self._half_open_until
        ):
            self._enter(self._timeout_state)
            return self._admit_all or self._acquire_guarded()
        if self._state is HALF_OPEN and self._permits > 0:
            self._permits -= 1
            return True
        self._metrics.not_permitted += 1
        self._emit(EventKind.NOT_PERMITTED)
        return False

    def _add(
        self, outcome: int, kind: EventKind, duration: float, exc: BaseException | None
    ) -> None:
        state = self._state
        if state is DISABLED or state is FORCED_OPEN:
            return
        metrics = self._metrics
        metrics.add(outcome)
        if self._listeners:
            self._emit(kind, error=exc, duration=duration)
        if metrics.calls >= metrics.minimum and state is not OPEN:
            self._judge(state, metrics)

    def _judge(self, state: BreakerState, metrics: Recorder) -> None:
        failing = metrics.failed / metrics.calls >= self._failure_rate
        slow = metrics.slow / metrics.calls >= self._slow_call_rate
        if state is METRICS_ONLY:
            self._announce_exceeded(
                failing and not self._exceeded & FAILED, slow and not self._exceeded & SLOW
            )
            self._exceeded |= (FAILED if failing else 0) | (SLOW if slow else 0)
        elif failing or slow:
            self._announce_exceeded(failing, slow)
            self._enter(OPEN)
        elif state is HALF_OPEN:
            self._enter(CLOSED)

    def _announce_exceeded(self, failing: bool, slow: bool) -> None:
        if failing:
            self._emit(EventKind.FAILURE_RATE_EXCEEDED)
        if slow:
            self._emit(EventKind.SLOW_CALL_RATE_EXCEEDED)

    def _enter(self, state: BreakerState, *, announce: bool = True) -> None:
        previous = self._state
        now = self._monotonic()
        self._generation += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if state is OPEN:
            self._open_count = self._open_count + 1 if previous is HALF_OPEN else 1
            wait = self._wait_in_open(self._open_count)
            self._open_until = now + wait
            if self._auto_half_open:
                self._schedule(wait, HALF_OPEN)
        else:
            self._metrics = self._fresh_metrics(state)
        if state is HALF_OPEN:
            self._permits = self._half_open_calls
            if self._half_open_max_wait is not None:
                self._half_open_until = now + self._half_open_max_wait
                self._schedule(self._half_open_max_wait, self._timeout_state)
        elif state is CLOSED:
            self._open_count = 0
        self._state = state
        self._admit_all = state is CLOSED or state is DISABLED or state is METRICS_ONLY
        self._exceeded = 0
        if announce:
            self._emit(EventKind.STATE_TRANSITION, from_state=previous, to_state=state)

    def _fresh_metrics(self, state: BreakerState) -> Recorder:
        if state is HALF_OPEN:
            return CountWindow(self._half_open_calls).recorder(self._half_open_calls, self.clock)
        return self._window.recorder(self._minimum_calls, self.clock)

    def _schedule(self, delay: float, target: BreakerState) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # outside a loop the lazy check in try_acquire still applies
        self._timer = loop.create_task(self._fire(delay, self._generation, target))

    async def _fire(self, delay: float, generation: int, target: BreakerState) -> None:
        await self.clock.sleep(delay)
        if self._generation == generation:
            self._timer = None
            self._enter(target)
