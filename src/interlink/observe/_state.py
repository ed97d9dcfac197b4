"""State metrics of one running App: resilience (see ``_state_policies``), subscriptions,
dead letters and sagas (sampled by ``_state_sampler``), registered in the App's registry.

The runtime builds a :class:`StateMetrics` when metrics are on, hands its ``policies.observe``
to the App's policy set, and calls :meth:`StateMetrics.start` once the consumers run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from interlink._errors import ConfigurationError
from interlink.observe._state_policies import PolicyMetrics
from interlink.observe._state_sampler import (
    DEFAULT_INTERVAL,
    MAX_INTERVAL,
    MIN_INTERVAL,
    StateSampler,
    Watched,
)
from interlink.saga._state import SagaStatus
from interlink.saga._store import SagaStore, store_for

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from interlink.broker import Broker
    from interlink.messaging import Consumer
    from interlink.saga import Choreography, Saga

__all__ = ["StateCollector", "StateMetrics", "interval_from_env"]

_GROUP = ("messaging_destination_name", "messaging_consumer_group_name")


def interval_from_env(environ: Mapping[str, str] | None = None) -> float:
    """``INTERLINK_STATE_INTERVAL`` (seconds between samples), else 5."""
    raw = (os.environ if environ is None else environ).get("INTERLINK_STATE_INTERVAL", "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        interval = float(raw)
    except ValueError:
        interval = -1.0
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise ConfigurationError(
            f"INTERLINK_STATE_INTERVAL must be {MIN_INTERVAL}-{MAX_INTERVAL} seconds, not {raw!r}"
        )
    return interval


class StateCollector(Collector):
    """Subscriptions, dead letters and sagas from the sampler's last sample; redeliveries
    counted live by this App's consumers."""

    def __init__(
        self, sampler: StateSampler, consumers: Sequence[Consumer], saga_names: Sequence[str]
    ) -> None:
        self._sampler = sampler
        self._consumers = consumers
        self._saga_names = tuple(dict.fromkeys(saga_names))

    def collect(self) -> Iterator[Metric]:
        latest = self._sampler.latest
        pending = _gauge(
            "interlink_subscription_pending_messages", "Not yet delivered to the group"
        )
        unacked = _gauge(
            "interlink_subscription_unacknowledged_messages", "Delivered to the group, not settled"
        )
        for (topic, group), stats in sorted(latest.subscriptions.items()):
            pending.add_metric([topic, group], stats.pending)
            if stats.unacknowledged is not None:
                unacked.add_metric([topic, group], stats.unacknowledged)
        yield pending
        yield unacked
        redelivered = CounterMetricFamily(
            "interlink_subscription_redelivered_messages",
            "Deliveries this App received that the broker had delivered before",
            labels=_GROUP,
        )
        counts: Counter[tuple[str, str]] = Counter()
        for consumer in self._consumers:
            sub = consumer.subscriber
            if sub.durable:
                counts[sub.topic, sub.group] += consumer.redelivered
        for pair, count in sorted(counts.items()):
            redelivered.add_metric(list(pair), count)
        yield redelivered
        dead = _gauge("interlink_dead_letters", "Dead letters the group made, currently stored")
        for (topic, group), count in sorted(latest.dead_letters.items()):
            dead.add_metric([topic, group], count)
        yield dead
        sagas = GaugeMetricFamily(
            "interlink_sagas", "Sagas in the store by status", labels=("saga", "status")
        )
        by_status = {(name, str(s)): 0 for name in self._saga_names for s in SagaStatus}
        by_status |= latest.sagas
        for (name, status), count in sorted(by_status.items()):
            sagas.add_metric([name, status], count)
        yield sagas


def _gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=_GROUP)


class StateMetrics:
    """The state metrics of one App, in ``registry``; :meth:`aclose` unregisters them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self.policies = PolicyMetrics()
        registry.register(self.policies)
        self.sampler: StateSampler | None = None
        self._collector: StateCollector | None = None

    async def start(
        self,
        broker: Broker,
        consumers: Sequence[Consumer],
        sagas: Sequence[Saga[Any]] = (),
        choreographies: Sequence[Choreography] = (),
        *,
        interval: float | None = None,
    ) -> None:
        """Sample the consumers' durable groups and the sagas' stores until :meth:`stop`."""
        watched = [
            Watched(c.subscriber.topic, c.subscriber.group, c.subscriber.dead_letter_topic)
            for c in consumers
            if c.subscriber.durable
        ]
        stores: dict[tuple[int, str], SagaStore] = {}
        for saga in sagas:
            key = (id(saga.database), saga.table)
            stores.setdefault(key, store_for(saga.database, table=saga.table))
        for tracker in choreographies:
            stores.setdefault((id(tracker.store), ""), tracker.store)
        names = [s.name for s in sagas] + [t.name for t in choreographies]
        every = interval_from_env() if interval is None else interval
        self.sampler = StateSampler(broker, watched, list(stores.values()), interval=every)
        await self.sampler.__aenter__()
        self._collector = StateCollector(self.sampler, consumers, names)
        self._registry.register(self._collector)

    async def stop(self) -> None:
        """Stop sampling (the last sample stays readable)."""
        sampler, self.sampler = self.sampler, None
        if sampler is not None:
            await sampler.__aexit__(None, None, None)

    async def aclose(self) -> None:
        await self.stop()
        self.policies.close()
        for collector in (self.policies, self._collector):
            if collector is not None:
                self._registry.unregister(collector)
        self._collector = None
