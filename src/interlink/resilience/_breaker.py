"""CircuitBreaker: Resilience4j's state machine, without a lock.

asyncio runs one coroutine at a time, so every state change below happens synchronously
between two awaits and needs no lock; the protected call itself is awaited with nothing held,
so concurrent calls are never serialized by the breaker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from interlink._clock import Clock
from interlink._errors import BulkheadFull, CallNotPermitted, IllegalStateTransition
from interlink.resilience._config import (
    ErrorSpec,
    Seconds,
    fraction,
    matcher,
    monotonic_reader,
    seconds,
)
from interlink.resilience._events import EventKind
from interlink.resilience._link import Next, PolicyBase
from interlink.resilience._state import BreakerState, is_legal
from interlink.resilience._window import (
    FAILED,
    SLOW,
    BreakerMetrics,
    CountWindow,
    Recorder,
    TimeWindow,
)

__all__ = ["CircuitBreaker"]

P = ParamSpec("P")
T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
DISABLED, FORCED_OPEN = BreakerState.DISABLED, BreakerState.FORCED_OPEN
METRICS_ONLY = BreakerState.METRICS_ONLY

_DEFAULT_WINDOW = CountWindow(100)
# Refusals by policies inside the breaker say nothing about the callee's health.
_LOCAL_REFUSALS = (CallNotPermitted, BulkheadFull)

WaitInOpen = Seconds | Callable[[int], Seconds]


class CircuitBreaker(PolicyBase):
    """Stop calling a dependency that keeps failing or is too slow, and probe it to recover.

    See docs/resilience.md for the semantics; they follow Resilience4j.
    """

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
    source = "breaker"

    def __init__(
        self,
        *,
        window: CountWindow | TimeWindow = _DEFAULT_WINDOW,
        minimum_calls: int = 100,
        failure_rate: float = 0.5,
        slow_call_rate: float = 1.0,
        slow_call_duration: Seconds = 60.0,
        wait_in_open: WaitInOpen = 60.0,
        half_open_calls: int = 10,
        half_open_max_wait: Seconds | None = None,
        half_open_timeout_state: BreakerState = OPEN,
        auto_half_open: bool = False,
        record: ErrorSpec = Exception,
        ignore: ErrorSpec = (),
        initial_state: BreakerState = CLOSED,
        clock: Clock | None = None,
        name: str = "",
    ) -> None:
        super().__init__(name=name, clock=clock)
        if not isinstance(window, CountWindow | TimeWindow):
            raise TypeError(f"window must be a CountWindow or a TimeWindow, not {window!r}")
        if half_open_timeout_state not in (OPEN, CLOSED):
            raise ValueError("half_open_timeout_state must be BreakerState.OPEN or CLOSED")
        self._window = window
        self._monotonic = monotonic_reader(self.clock)
        # In a count window a success never raises a rate, so it needs judging only when it
        # completes the minimum; in a time window, old calls expiring can raise one.
        self._judge_successes = isinstance(window, TimeWindow)
        self._minimum_calls = _count(minimum_calls, "minimum_calls")
        self._failure_rate = fraction(failure_rate, "failure_rate")
        self._slow_call_rate = fraction(slow_call_rate, "slow_call_rate")
        self._slow_call_duration = seconds(slow_call_duration, "slow_call_duration")
        self._wait_in_open = _wait_function(wait_in_open)
        self._half_open_calls = _count(half_open_calls, "half_open_calls")
        self._half_open_max_wait = (
            None
            if half_open_max_wait is None
            else seconds(half_open_max_wait, "half_open_max_wait", positive=True)
        )
        self._timeout_state = half_open_timeout_state
        self._auto_half_open = auto_half_open
        self._record = matcher(record, "record")
        self._ignore = matcher(ignore, "ignore")
        self._timer: asyncio.Task[None] | None = None
        self._generation = 0
        self._open_count = 0
        self._open_until = self._half_open_until = 0.0
        self._permits = 0
        self._state = CLOSED
        self._metrics = self._fresh_metrics(CLOSED)
        self._enter(BreakerState(initial_state), announce=False)

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self._state})"

    @property
    def state(self) -> BreakerState:
        """The current state. Reading it never causes a transition."""
        return self._state

    @property
    def metrics(self) -> BreakerMetrics:
        """The current state's metrics (OPEN shows those of the state that opened it)."""
        return self._metrics.snapshot()

    # --- the permission protocol -----------------------------------------------------------

    def try_acquire(self) -> bool:
        """Ask to make one call; False (counted as not permitted) when the breaker refuses."""
        return self._admit_all or self._acquire_guarded()

    def on_success(self, duration: float = 0.0) -> None:
        """Record that a permitted call succeeded after ``duration`` seconds."""
        if duration > self._slow_call_duration or self._state is not CLOSED:
            self._add(
                SLOW if duration > self._slow_call_duration else 0,
                EventKind.SUCCESS,
                duration,
                None,
            )
            return
        metrics = self._metrics
        before = metrics.calls
        metrics.add(0)
        if self._listeners:
            self._emit(EventKind.SUCCESS, duration=duration)
        if before < metrics.minimum <= metrics.calls or (
            self._judge_successes and metrics.calls >= metrics.minimum
        ):
            self._judge(CLOSED, metrics)

    def on_error(self, exc: BaseException, duration: float = 0.0) -> None:
        """Record that a permitted call raised ``exc`` after ``duration`` seconds."""
        if self._ignore(exc):
            self.release()
            self._emit(EventKind.IGNORED_ERROR, error=exc, duration=duration)
        elif not self._record(exc):
            self.on_success(duration)
        else:
            slow = SLOW if duration > self._slow_call_duration else 0
            self._add(FAILED | slow, EventKind.ERROR, duration, exc)

    def release(self) -> None:
        """Give back a permission without recording an outcome (the call never ran, or was
        cancelled)."""
        if self._state is HALF_OPEN and self._permits < self._half_open_calls:
            self._permits += 1

    def rejection(self) -> CallNotPermitted:
        """The error for a refused call, with ``retry_after`` when the breaker knows it."""
        retry_after = None
        if self._state is OPEN:
            retry_after = max(0.0, self._open_until - self._monotonic())
        return CallNotPermitted(
            f"circuit breaker {self.name!r} is {self._state}",
            retry_after=retry_after,
            name=self.name,
        )

    async def _link(
        self,
        nxt: Next,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float | None,
    ) -> Any:
        if not (self._admit_all or self._acquire_guarded()):
            raise self.rejection()
        start = self._monotonic()
        try:
            result = await nxt(fn, args, kwargs, deadline)
        except BaseException as exc:
            self._settle(exc, start)
            raise
        self.on_success(self._monotonic() - start)
        return result

    async def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``await fn(*args, **kwargs)`` if the breaker permits, recording the outcome."""
        # The same as _link, one frame shorter: the standalone breaker's hot path.
        if not (self._admit_all or self._acquire_guarded()):
            raise self.rejection()
        start = self._monotonic()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            self._settle(exc, start)
            raise
        self.on_success(self._monotonic() - start)
        return result

    def _settle(self, exc: BaseException, start: float) -> None:
        if isinstance(exc, Exception) and not isinstance(exc, _LOCAL_REFUSALS):
            self.on_error(exc, self._monotonic() - start)
        else:
            self.release()  # cancelled, or refused further in: the callee said nothing

    # --- transitions ------------------------------------------------------------------------

    def transition_to(self, state: BreakerState) -> None:
        """Move to ``state`` by hand. Moving to the current state does nothing."""
        current = self._state
        if state is current:
            return
        if not is_legal(current, state):
            raise IllegalStateTransition(
                f"circuit breaker {self.name!r} cannot go from {current} to {state}"
            )
        self._enter(state)

    def reset(self) -> None:
        """Back to CLOSED with fresh metrics, as if newly made."""
        self._open_count = 0
        self._enter(CLOSED, announce=self._state is not CLOSED)
        self._emit(EventKind.RESET)

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
            return self.try_acquire()
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


def _count(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a whole number >= 1, not {value!r}")
    return value


def _wait_function(spec: WaitInOpen) -> Callable[[int], float]:
    if isinstance(spec, int | float | timedelta) and not isinstance(spec, bool):
        constant = seconds(spec, "wait_in_open")
        return lambda _opened: constant
    if callable(spec):
        return lambda opened: seconds(spec(opened), f"wait_in_open({opened})")
    raise TypeError(f"wait_in_open must be seconds or a function of the open count, not {spec!r}")
