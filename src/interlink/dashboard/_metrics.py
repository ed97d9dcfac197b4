"""What the dashboard reads from each instance's ``GET /metrics``: circuit breaker states and
the subscription (broker) gauges and counters of the shared metric names."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["BreakerHistory", "Sample", "breaker_states", "broker_rows", "parse_metrics"]

BREAKER_STATE = "interlink_breaker_state"
SEVERITY = {
    "closed": 0,
    "disabled": 0,
    "metrics_only": 0,
    "half_open": 1,
    "open": 2,
    "forced_open": 3,
}
"""How bad a state is for the callers: states set by hand rank by what they let through."""

# Metric name -> (panel column, how instances combine). Pending and unacknowledged messages and
# stored dead letters are the broker's own group-wide counts, which every instance of a group
# reports alike: the largest wins. Redelivered messages are each instance's own: they add up.
Combine = Callable[[list[float]], float]
BROKER_COLUMNS: dict[str, tuple[str, Combine]] = {
    "interlink_subscription_pending_messages": ("pending", max),
    "interlink_subscription_unacknowledged_messages": ("unacknowledged", max),
    "interlink_subscription_redelivered_messages_total": ("redelivered", sum),
    "interlink_dead_letters": ("dead_letters", max),
}


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse_metrics(text: str) -> list[Sample]:
    """The samples of a Prometheus text exposition; raises ``ValueError`` on a bad one."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:  # pragma: no cover - the extra is part of dev
        raise ImportError(
            'the dashboard reads metrics with prometheus-client: pip install "interlink[observe]"'
        ) from None
    return [
        Sample(s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def breaker_states(samples: list[Sample]) -> dict[str, str]:
    """Each breaker's current state (the ``state`` label whose sample is 1), by target."""
    return {
        s.labels.get("interlink_target", ""): s.labels.get("state", "")
        for s in samples
        if s.name == BREAKER_STATE and s.value == 1
    }


def worst(states: list[str]) -> str:
    return max(states, key=lambda state: SEVERITY.get(state, -1))


def broker_rows(per_instance: list[list[Sample]]) -> list[dict[str, Any]]:
    """One row per destination and consumer group, combining every instance's samples."""
    seen: dict[tuple[str, str], dict[str, list[float]]] = {}
    for samples in per_instance:
        for s in samples:
            column = BROKER_COLUMNS.get(s.name)
            if column is None:
                continue
            key = (
                s.labels.get("messaging_destination_name", ""),
                s.labels.get("messaging_consumer_group_name", ""),
            )
            seen.setdefault(key, {}).setdefault(column[0], []).append(s.value)
    rows = []
    for (destination, group), columns in sorted(seen.items()):
        row: dict[str, Any] = {"destination": destination, "group": group}
        for name, combine in BROKER_COLUMNS.values():
            values = columns.get(name)
            row[name] = None if values is None else combine(values)
        rows.append(row)
    return rows


class BreakerHistory:
    """Each breaker's state changes as the polls saw them, the last ``capacity`` of them."""

    def __init__(self, capacity: int = 500) -> None:
        self._last: dict[tuple[str, str], str] = {}
        self.changes: deque[dict[str, Any]] = deque(maxlen=capacity)

    def observe(self, instance: str, service: str, states: dict[str, str], at: float) -> None:
        for target, state in states.items():
            if self._last.get((instance, target)) != state:
                self._last[(instance, target)] = state
                self.changes.append(
                    {
                        "time": at,
                        "instance": instance,
                        "service": service,
                        "target": target,
                        "state": state,
                    }
                )

    def forget(self, instance: str) -> None:
        for key in [k for k in self._last if k[0] == instance]:
            del self._last[key]
