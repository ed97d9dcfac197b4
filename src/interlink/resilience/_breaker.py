"""CircuitBreaker: its configuration and public protocol (the mechanics are in _machine.py).

The protected call is awaited with nothing held, so concurrent calls are never serialized by
the breaker.
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
from interlink.resilience._link import Next
from interlink.resilience._machine import CLOSED, HALF_OPEN, OPEN, BreakerMachine
from interlink.resilience._state import BreakerState, is_legal
from interlink.resilience._window import FAILED, SLOW, BreakerMetrics, CountWindow, TimeWindow

__all__ = ["CircuitBreaker"]

P = ParamSpec("P")
T = TypeVar("T")

_DEFAULT_WINDOW = CountWindow(100)
# Refusals by policies inside the breaker say nothing about the callee's health.
_LOCAL_REFUSALS = (CallNotPermitted, BulkheadFull)

WaitInOpen = Seconds | Callable[[int], Seconds]


class CircuitBreaker(BreakerMachine):
    """Stop calling a dependency that keeps failing or is too slow, and probe it to recover.

    See docs/resilience.md for the semantics; they follow Resilience4j.
    """

    __slots__ = ()
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
