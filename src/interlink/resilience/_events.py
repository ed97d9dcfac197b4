"""What policies report: one small event type, and listeners subscribed per policy.

Events are built only when somebody listens, so an unobserved policy pays one truthiness check
per call. A listener that raises is logged and never breaks the call it observes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, TypeAlias

from interlink._clock import Clock
from interlink.resilience._config import as_clock
from interlink.resilience._state import BreakerState

__all__ = ["Emitter", "Event", "EventKind", "Listener"]

_log = logging.getLogger("interlink.resilience")


class EventKind(StrEnum):
    """What happened. Members compare equal to their names (``kind == "RETRY"``)."""

    # circuit breaker
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    IGNORED_ERROR = "IGNORED_ERROR"
    NOT_PERMITTED = "NOT_PERMITTED"
    STATE_TRANSITION = "STATE_TRANSITION"
    RESET = "RESET"
    FAILURE_RATE_EXCEEDED = "FAILURE_RATE_EXCEEDED"
    SLOW_CALL_RATE_EXCEEDED = "SLOW_CALL_RATE_EXCEEDED"
    # retry
    RETRY = "RETRY"
    RETRIES_EXHAUSTED = "RETRIES_EXHAUSTED"
    RETRY_BUDGET_EXHAUSTED = "RETRY_BUDGET_EXHAUSTED"
    # timeout, deadline, bulkhead, hedge, fallback, throttle
    TIMEOUT = "TIMEOUT"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    BULKHEAD_FULL = "BULKHEAD_FULL"
    HEDGE = "HEDGE"
    FALLBACK = "FALLBACK"
    THROTTLED = "THROTTLED"


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """One thing a policy did. ``source`` names the kind of policy, ``name`` the instance."""

    kind: EventKind
    source: str
    name: str
    at: float
    """The policy clock's ``monotonic()`` reading when it happened."""
    error: BaseException | None = None
    duration: float | None = None
    attempt: int | None = None
    delay: float | None = None
    from_state: BreakerState | None = None
    to_state: BreakerState | None = None


Listener: TypeAlias = Callable[[Event], object]


class Emitter:
    """Holds a policy's name, clock and listeners."""

    __slots__ = ("_listeners", "clock", "name")

    source: ClassVar[str] = "policy"

    def __init__(self, *, name: str, clock: Clock | None) -> None:
        self.name = name
        self.clock = as_clock(clock)
        # Invariant: replaced, never mutated, so emitting while a listener unsubscribes is safe.
        self._listeners: tuple[Listener, ...] = ()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event; returns a function that unsubscribes."""
        self._listeners = (*self._listeners, listener)

        def unsubscribe() -> None:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

        return unsubscribe

    def _emit(
        self,
        kind: EventKind,
        *,
        error: BaseException | None = None,
        duration: float | None = None,
        attempt: int | None = None,
        delay: float | None = None,
        from_state: BreakerState | None = None,
        to_state: BreakerState | None = None,
    ) -> None:
        if not self._listeners:
            return
        event = Event(
            kind=kind,
            source=self.source,
            name=self.name,
            at=self.clock.monotonic(),
            error=error,
            duration=duration,
            attempt=attempt,
            delay=delay,
            from_state=from_state,
            to_state=to_state,
        )
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                _log.exception("resilience event listener %r failed on %s", listener, kind)
