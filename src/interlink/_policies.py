"""Which resilience policy guards a call, and the safe default.

The App owns its policies (no globals): ``policies={"payment": Policy(...)}`` for chosen
targets, ``default_policy`` for the rest. A default is built per target service, so each target
gets its own circuit breaker and one failing service never opens the breaker of another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

from interlink._clock import Clock
from interlink._errors import (
    CallError,
    InvalidRequest,
    MethodNotFound,
    RemoteError,
)
from interlink.resilience import Backoff, CircuitBreaker, CountWindow, Policy, Retry, RetryBudget
from interlink.resilience._events import Listener
from interlink.resilience._fallback import Fallback, Invoker

__all__ = [
    "PolicyFactory",
    "PolicyObserver",
    "PolicySet",
    "default_policy",
    "is_callee_failure",
    "is_transient",
]

PolicyFactory: TypeAlias = Callable[[str, Clock], Policy]
"""``factory(target_service, clock) -> Policy``: one fresh policy per target service."""

PolicyObserver: TypeAlias = Callable[[str, Policy], None]
"""``observer(target_service, policy)``: told of each policy a ``PolicySet`` builds."""

MAX_TARGETS = 10_000
"""Policies are kept per target service; more distinct targets than this is a bug upstream."""


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: nobody answered, the connection broke, or the callee had a 5xx.

    Client errors (422, 404, other 4xx) would fail the same way again. Whether the retry is
    *safe* is decided separately, per call (see ``non_retryable``).
    """
    if isinstance(exc, InvalidRequest | MethodNotFound):
        return False
    if isinstance(exc, RemoteError):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, CallError)


def is_callee_failure(exc: BaseException) -> bool:
    """Counts against the target in a circuit breaker: it is down, slow or failing.

    A rejected request (4xx) means the callee is healthy and the caller is wrong.
    """
    if isinstance(exc, InvalidRequest | MethodNotFound):
        return False
    if isinstance(exc, RemoteError):
        return exc.status >= 500
    return isinstance(exc, CallError)


def default_policy(service: str, clock: Clock) -> Policy:
    """The policy every call gets unless the App is told otherwise.

    - deadline 30 s for the whole call, retries included (a tighter caller deadline wins);
    - up to 3 attempts on transient failures, exponential backoff from 50 ms with full jitter,
      and only when safe (idempotent handler, or the request provably never ran), within a
      retry budget of 10% of calls (min 10/s) so retries cannot multiply an outage;
    - a circuit breaker per target: opens at 50% callee failures over the last 100 calls (once
      20 are in), stays open 10 s, then lets 5 probes through.
    """
    return Policy(
        deadline=30.0,
        retry=Retry(
            attempts=3,
            backoff=Backoff.exponential(initial=0.05, multiplier=2.0, max_delay=1.0, jitter="full"),
            on=is_transient,
            budget=RetryBudget(ratio=0.1, min_per_second=10, clock=clock),
            clock=clock,
        ),
        breaker=CircuitBreaker(
            window=CountWindow(100),
            minimum_calls=20,
            failure_rate=0.5,
            wait_in_open=10.0,
            half_open_calls=5,
            record=is_callee_failure,
            clock=clock,
            name=service,
        ),
        clock=clock,
        name=service,
    )


class PolicySet:
    """The policies of one running App, looked up by target service."""

    def __init__(
        self,
        chosen: Mapping[str, Policy | PolicyFactory],
        default: Policy | PolicyFactory | None,
        clock: Clock,
        invoker: Invoker,
        listeners: tuple[Listener, ...] = (),
        observer: PolicyObserver | None = None,
    ) -> None:
        self._chosen = dict(chosen)
        self._observer = observer
        self._default = default
        self._clock = clock
        self._invoker = invoker
        self._listeners = listeners
        self._built: dict[str, Policy | None] = {}

    def for_service(self, service: str) -> Policy | None:
        policy = self._built.get(service, _MISSING)
        if policy is _MISSING:
            policy = self._build(service)
            if len(self._built) < MAX_TARGETS:
                self._built[service] = policy
        return policy  # type: ignore[return-value]

    def adopt(self, policy: Policy) -> Policy:
        """Give a per-call policy what the App gives its own (the fallback's invoker)."""
        _wire_fallback(policy, self._invoker)
        return policy

    def _build(self, service: str) -> Policy | None:
        spec = self._chosen.get(service, self._default)
        if spec is None:
            return None
        policy = spec if isinstance(spec, Policy) else spec(service, self._clock)
        _wire_fallback(policy, self._invoker)
        for listener in self._listeners:
            policy.subscribe(listener)
        if self._observer is not None:
            self._observer(service, policy)
        return policy


_MISSING = object()


def _wire_fallback(policy: Policy, invoker: Invoker) -> None:
    fallback: Fallback | None = policy.fallback
    if fallback is not None and fallback.to is not None and fallback.invoker is None:
        fallback.set_invoker(invoker)
