"""Resilience state as Prometheus metrics: breaker state and transitions, rejections by an
open breaker, retries, and bulkhead rejections, per target service.

The runtime hands :meth:`PolicyMetrics.observe` every policy its ``PolicySet`` builds (one
per target service). Counts come from the policies' events; the breaker state gauge reads
each breaker when scraped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from interlink.resilience import CircuitBreaker, Policy
from interlink.resilience._events import Event, EventKind
from interlink.resilience._state import BreakerState

__all__ = ["MAX_TARGETS", "PolicyMetrics", "state_label"]

MAX_TARGETS = 10_000
"""Targets observed at most (a ``PolicySet`` keeps no more policies than this)."""

_DRIVEN = (BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN)
_TARGET = ("interlink_target",)


def state_label(state: BreakerState) -> str:
    """``HALF_OPEN`` -> ``half_open``."""
    return state.value.lower()


class PolicyMetrics(Collector):
    """Counts what the observed policies did, and reports their breakers' states."""

    def __init__(self) -> None:
        self._breakers: dict[str, CircuitBreaker] = {}
        self._targets: set[str] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self.transitions: Counter[tuple[str, str, str]] = Counter()
        self.rejections: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.bulkhead_rejections: Counter[str] = Counter()

    def observe(self, target: str, policy: Policy) -> None:
        """Count ``policy``'s events under ``target`` (the ``PolicySet`` observer hook)."""
        if len(self._targets) >= MAX_TARGETS and target not in self._targets:
            return
        self._targets.add(target)
        if policy.breaker is not None:
            self._breakers[target] = policy.breaker
        self._unsubscribe.append(policy.subscribe(lambda event: self._count(target, event)))

    def close(self) -> None:
        """Stop listening (a policy object the user gave outlives the App)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def _count(self, target: str, event: Event) -> None:
        kind = event.kind
        if kind is EventKind.STATE_TRANSITION and event.from_state and event.to_state:
            key = (target, state_label(event.from_state), state_label(event.to_state))
            self.transitions[key] += 1
        elif kind is EventKind.NOT_PERMITTED:
            self.rejections[target] += 1
        elif kind is EventKind.RETRY:
            self.retries[target] += 1
        elif kind is EventKind.BULKHEAD_FULL:
            self.bulkhead_rejections[target] += 1

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "interlink_breaker_state",
            "Circuit breaker state per target: 1 for the current state, 0 for the others",
            labels=("interlink_target", "state"),
        )
        for target, breaker in sorted(self._breakers.items()):
            current = breaker.state
            shown = _DRIVEN if current in _DRIVEN else (*_DRIVEN, current)
            for each in shown:
                state.add_metric([target, state_label(each)], 1.0 if each is current else 0.0)
        yield state
        transitions = CounterMetricFamily(
            "interlink_breaker_transitions",
            "Circuit breaker state transitions",
            labels=("interlink_target", "from_state", "to_state"),
        )
        for key, count in sorted(self.transitions.items()):
            transitions.add_metric(list(key), count)
        yield transitions
        yield _per_target(
            "interlink_breaker_rejections",
            "Calls refused by an open breaker",
            self.rejections,
            self._targets,
        )
        yield _per_target(
            "interlink_retries", "Attempts retried after a failure", self.retries, self._targets
        )
        yield _per_target(
            "interlink_bulkhead_rejections",
            "Calls refused by a full bulkhead",
            self.bulkhead_rejections,
            self._targets,
        )


def _per_target(
    name: str, documentation: str, counts: Counter[str], targets: set[str]
) -> CounterMetricFamily:
    """One series per observed target, 0 until it counts."""
    family = CounterMetricFamily(name, documentation, labels=_TARGET)
    for target in sorted(targets):
        family.add_metric([target], counts[target])
    return family
