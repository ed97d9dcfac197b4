"""The state collectors on their own registry: what a scrape reads while the sampler is slow
or failing, manual breaker states, bounds, and the sampling interval's settings."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from interlink import ConfigurationError
from interlink.broker import StoredMessage, SubscriptionStats
from interlink.observe import _state_policies
from interlink.observe._state import StateCollector, interval_from_env
from interlink.observe._state_policies import PolicyMetrics
from interlink.observe._state_sampler import StateSampler, Watched
from interlink.resilience import BreakerState, CircuitBreaker, Policy, Retry
from tests.conftest import eventually

WATCHED = Watched("orders", "billing", "orders.dlq")


class SlowBroker:
    """Answers with ``pending``; once ``stall`` is set, hangs (or raises, with ``fail``)."""

    url = "fake://"

    def __init__(self) -> None:
        self.pending = 0
        self.stall = asyncio.Event()
        self.fail = False
        self.calls = 0

    async def subscription_stats(self, topic: str, group: str) -> SubscriptionStats:
        self.calls += 1
        if self.stall.is_set():
            if self.fail:
                raise ConnectionError("broker gone")
            await asyncio.Event().wait()
        return SubscriptionStats(pending=self.pending, unacknowledged=1)

    async def read(self, topic: str, *, limit: int, **window: Any) -> list[StoredMessage]:
        headers: Mapping[str, str] = {"x-interlink-group": "billing"}
        return [StoredMessage(topic, b"", None, headers, ref=n) for n in range(min(limit, 2))]


def scrape(registry: CollectorRegistry) -> dict[str, list[Any]]:
    text = generate_latest(registry).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def pending(registry: CollectorRegistry) -> float:
    [sample] = scrape(registry)["interlink_subscription_pending_messages"]
    return float(sample.value)


async def test_a_hanging_broker_never_holds_up_a_scrape_and_keeps_the_last_value() -> None:
    broker = SlowBroker()
    broker.pending = 7
    registry = CollectorRegistry()
    async with StateSampler(broker, [WATCHED], interval=0.05) as sampler:  # type: ignore[arg-type]
        registry.register(StateCollector(sampler, [], []))
        await eventually(lambda: sampler.latest.rounds >= 1)
        assert pending(registry) == 7
        broker.stall.set()
        calls = broker.calls
        await eventually(lambda: broker.calls > calls)  # a read is hanging now
        assert pending(registry) == 7  # answered at once, from the last sample
        rounds = sampler.latest.rounds
        await eventually(lambda: sampler.latest.rounds > rounds)  # the hung read timed out
        assert pending(registry) == 7


async def test_a_failing_read_keeps_the_last_value_and_the_next_round_tries_again() -> None:
    broker = SlowBroker()
    broker.pending, broker.fail = 3, True
    sampler = StateSampler(broker, [WATCHED], interval=0.05)  # type: ignore[arg-type]
    await sampler.sample()
    broker.stall.set()
    await sampler.sample()
    assert sampler.latest.subscriptions["orders", "billing"].pending == 3
    broker.stall.clear()
    broker.pending = 0
    await sampler.sample()
    assert sampler.latest.subscriptions["orders", "billing"].pending == 0
    assert sampler.latest.dead_letters["orders", "billing"] == 2


def test_the_interval_is_bounded_and_read_from_the_environment() -> None:
    assert interval_from_env({}) == 5.0
    assert interval_from_env({"INTERLINK_STATE_INTERVAL": "0.5"}) == 0.5
    for wrong in ("0", "-1", "soon", "301"):
        with pytest.raises(ConfigurationError):
            interval_from_env({"INTERLINK_STATE_INTERVAL": wrong})
    with pytest.raises(ValueError, match="interval"):
        StateSampler(SlowBroker(), [], interval=0.0)  # type: ignore[arg-type]


def breaker_states(registry: CollectorRegistry) -> dict[str, float]:
    return {s.labels["state"]: s.value for s in scrape(registry)["interlink_breaker_state"]}


def test_a_breaker_set_by_hand_shows_its_state_beside_the_driven_ones() -> None:
    metrics = PolicyMetrics()
    registry = CollectorRegistry()
    registry.register(metrics)
    breaker = CircuitBreaker()
    metrics.observe("payment", Policy(breaker=breaker))
    assert breaker_states(registry) == {"closed": 1, "open": 0, "half_open": 0}
    breaker.transition_to(BreakerState.FORCED_OPEN)
    assert breaker_states(registry) == {"closed": 0, "open": 0, "half_open": 0, "forced_open": 1}
    [moved] = scrape(registry)["interlink_breaker_transitions"]
    assert moved.labels == {
        "interlink_target": "payment",
        "from_state": "closed",
        "to_state": "forced_open",
    }


async def test_closed_metrics_stop_counting_a_policy_that_outlives_the_app() -> None:
    metrics = PolicyMetrics()
    policy = Policy(retry=Retry(attempts=2, on=ValueError))

    async def fails() -> None:
        raise ValueError("no")

    metrics.observe("inventory", policy)
    with pytest.raises(ValueError, match="no"):
        await policy.execute(fails)
    assert metrics.retries["inventory"] == 1
    metrics.close()
    with pytest.raises(ValueError, match="no"):
        await policy.execute(fails)
    assert metrics.retries["inventory"] == 1


def test_targets_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_state_policies, "MAX_TARGETS", 2)
    metrics = PolicyMetrics()
    for target in ("a", "b", "c"):
        metrics.observe(target, Policy(breaker=CircuitBreaker()))
    registry = CollectorRegistry()
    registry.register(metrics)
    targets = {s.labels["interlink_target"] for s in scrape(registry)["interlink_breaker_state"]}
    assert targets == {"a", "b"}
