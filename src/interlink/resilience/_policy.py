"""Policy: the policies in their fixed order, run as one chain of links.

Outer to inner: Fallback ▸ deadline ▸ Retry or Hedge ▸ CircuitBreaker ▸ AdaptiveThrottle ▸
Timeout ▸ Bulkhead ▸ call. docs/resilience.md explains the order.

The deadline costs no timer of its own: the deadline link only computes it (and refuses to start
once it has passed); each attempt is bounded by ``min(deadline, attempt timeout)`` in the Timeout
position, Retry never sleeps past it, and the breaker and throttle between them never wait. So
the whole operation is bounded with one ``asyncio.timeout`` per attempt, not two.

Deadlines are absolute readings of the policy clock's ``monotonic()``. ``execute`` starts the
operation with no outer deadline (only ``Policy(deadline=...)`` bounds it);
``execute_with_deadline(deadline, fn, *args)`` adds a caller's deadline and calls
``fn(attempt_deadline, *args)``, where ``attempt_deadline`` is the earliest of the caller's
deadline, the policy's own deadline and the attempt's Timeout. That value is what the next hop
should receive: ``policy.remaining(attempt_deadline)`` turns it into seconds left (for example
to put ``clock.time() + remaining`` on the wire, since monotonic readings do not cross
processes).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from interlink._clock import Clock, SystemClock
from interlink._errors import DeadlineExceeded
from interlink._timer import timeout_after
from interlink.resilience._breaker import CircuitBreaker
from interlink.resilience._bulkhead import Bulkhead
from interlink.resilience._config import Seconds, seconds
from interlink.resilience._events import EventKind, Listener
from interlink.resilience._fallback import Fallback
from interlink.resilience._hedge import Hedge
from interlink.resilience._link import Next, PolicyBase, call_fn, call_fn_with_deadline
from interlink.resilience._retry import Retry
from interlink.resilience._throttle import AdaptiveThrottle
from interlink.resilience._timeout import Timeout, within

__all__ = ["Policy"]

P = ParamSpec("P")
T = TypeVar("T")


class Policy(PolicyBase):
    """Several policies around one operation: ``await policy.execute(fn, *args)`` or ``@policy``.

    ``deadline`` (seconds) bounds the whole operation, backoff included; ``timeout`` (seconds or
    a :class:`Timeout`) bounds each attempt. Every policy given must share the Policy's clock.
    """

    __slots__ = (
        "_plain",
        "_system_clock",
        "_timed",
        "breaker",
        "bulkhead",
        "deadline",
        "fallback",
        "hedge",
        "retry",
        "throttle",
        "timeout",
    )
    source = "policy"

    def __init__(
        self,
        *,
        deadline: Seconds | None = None,
        fallback: Fallback | None = None,
        retry: Retry | None = None,
        hedge: Hedge | None = None,
        breaker: CircuitBreaker | None = None,
        throttle: AdaptiveThrottle | None = None,
        timeout: Seconds | Timeout | None = None,
        bulkhead: Bulkhead | None = None,
        clock: Clock | None = None,
        name: str = "",
    ) -> None:
        if retry is not None and hedge is not None:
            raise ValueError("a Policy takes retry= or hedge=, not both (a hedge already re-sends)")
        given: dict[str, PolicyBase | None] = {
            "fallback": fallback,
            "retry": retry,
            "hedge": hedge,
            "breaker": breaker,
        }
        given |= {"throttle": throttle, "bulkhead": bulkhead}
        if isinstance(timeout, Timeout):
            given["timeout"] = timeout
        _check_types(given)
        super().__init__(name=name, clock=_shared_clock(clock, given))
        self.deadline = None if deadline is None else seconds(deadline, "deadline", positive=True)
        self.fallback, self.retry, self.hedge = fallback, retry, hedge
        self.breaker, self.throttle, self.bulkhead = breaker, throttle, bulkhead
        self.timeout = (
            timeout
            if timeout is None or isinstance(timeout, Timeout)
            else Timeout(timeout, clock=self.clock, name=name)
        )
        self._system_clock = isinstance(self.clock, SystemClock)
        self._plain = self._chain(call_fn, bounded=self.deadline is not None)
        self._timed = self._chain(call_fn_with_deadline, bounded=True)

    def __repr__(self) -> str:
        parts = [f"{k}={getattr(self, k)!r}" for k in _ORDER if getattr(self, k) is not None]
        return f"Policy({', '.join(parts)})"

    async def execute(
        self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``await fn(*args, **kwargs)`` through every policy."""
        result: T = await self._plain(fn, args, kwargs, None)
        return result

    call = execute

    def execute_with_deadline(
        self,
        deadline: float | None,
        fn: Callable[Concatenate[float | None, P], Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Awaitable[T]:
        """Like :meth:`execute`, also bounded by ``deadline`` (absolute, on the policy clock's
        ``monotonic()``; None for none). Each attempt is called as ``fn(attempt_deadline,
        *args, **kwargs)``; a deadline already past raises :class:`DeadlineExceeded` without
        calling ``fn``. Await what it returns (the chain itself, not a frame around it)."""
        return cast(Awaitable[T], self._timed(fn, args, kwargs, deadline))

    def remaining(self, deadline: float | None) -> float | None:
        """Seconds left until ``deadline`` (never negative), or None when there is none."""
        return None if deadline is None else max(0.0, deadline - self.clock.monotonic())

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Listen to the events of every policy in this Policy; returns an unsubscriber."""
        members = [getattr(self, k) for k in _ORDER if getattr(self, k) is not None]
        undo = [member.subscribe(listener) for member in members]
        undo.append(super().subscribe(listener))

        def unsubscribe() -> None:
            for step in undo:
                step()

        return unsubscribe

    def _chain(self, innermost: Next, *, bounded: bool) -> Next:
        link = _wrap(self.bulkhead, innermost)
        if self.timeout is not None:
            link = _wrap(self.timeout, link)
        elif bounded:
            link = cast(Next, functools.partial(self._bound_attempt, link))
        for layer in (self.throttle, self.breaker, self.retry or self.hedge):
            link = _wrap(layer, link)
        if bounded:
            link = cast(Next, functools.partial(self._bound, link))
        return _wrap(self.fallback, link)

    async def _bound(
        self,
        nxt: Next,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float | None,
    ) -> Any:
        now = self.clock.monotonic()
        if self.deadline is not None and (deadline is None or now + self.deadline < deadline):
            deadline = now + self.deadline
        if deadline is not None and deadline <= now:
            raise self._expired()
        return await nxt(fn, args, kwargs, deadline)

    async def _bound_attempt(
        self,
        nxt: Next,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float | None,
    ) -> Any:
        """Stands in for Timeout when there is none, to hold an attempt to the deadline."""
        if deadline is None:
            return await nxt(fn, args, kwargs, None)
        delay = deadline - self.clock.monotonic()
        if delay > 0 and self._system_clock:  # within()'s real-clock case, one frame shorter
            try:
                async with timeout_after(delay) as scope:
                    return await nxt(fn, args, kwargs, deadline)
            except TimeoutError:
                if scope.expired():
                    raise self._expired() from None
                raise
        return await within(self.clock, delay, nxt(fn, args, kwargs, deadline), self._expired)

    def _expired(self) -> DeadlineExceeded:
        self._emit(EventKind.DEADLINE_EXCEEDED)
        return DeadlineExceeded(f"policy {self.name!r}: the deadline passed")


_ORDER = ("fallback", "retry", "hedge", "breaker", "throttle", "timeout", "bulkhead")
_TYPES: dict[str, type[PolicyBase]] = {
    "fallback": Fallback,
    "retry": Retry,
    "hedge": Hedge,
    "breaker": CircuitBreaker,
    "throttle": AdaptiveThrottle,
    "timeout": Timeout,
    "bulkhead": Bulkhead,
}


def _wrap(layer: PolicyBase | None, link: Next) -> Next:
    return link if layer is None else cast(Next, functools.partial(layer._link, link))


def _check_types(given: dict[str, PolicyBase | None]) -> None:
    for key, member in given.items():
        if member is not None and not isinstance(member, _TYPES[key]):
            raise TypeError(f"{key} must be a {_TYPES[key].__name__}, not {member!r}")


def _shared_clock(clock: Clock | None, given: dict[str, PolicyBase | None]) -> Clock | None:
    """The one clock all members use: deadlines from one clock mean nothing on another."""
    clocks = {id(m.clock): m.clock for m in given.values() if m is not None}
    if clock is not None:
        clocks.setdefault(id(clock), clock)
    if len(clocks) > 1:
        raise ValueError("every policy in a Policy must use the same clock (pass the same clock=)")
    return next(iter(clocks.values()), clock)
