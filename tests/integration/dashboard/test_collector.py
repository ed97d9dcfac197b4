"""The collector against instances on real sockets, found through a registry."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from interlink.dashboard import Collector
from interlink.discovery import MemoryRegistry
from tests.integration.dashboard._fake import FakeInstance
from tests.unit.dashboard._fixture import CONSUMERS, ORDERS, PAYMENT
from tests.unit.dashboard.test_metrics import breaker_text


@pytest.fixture
async def registry() -> AsyncIterator[MemoryRegistry]:
    registry = MemoryRegistry()
    await registry.connect()
    yield registry
    await registry.close()


async def test_spans_are_read_incrementally_from_every_instance(registry: MemoryRegistry) -> None:
    async with FakeInstance("orders") as orders, FakeInstance("payment") as payment:
        orders.add(*ORDERS[:3])
        payment.add(*PAYMENT)
        for fake in (orders, payment):
            await registry.register(fake.instance(), ttl=60)
        async with Collector(registry, interval=3600) as collector:
            await collector.poll()
            assert len(collector.spans) == 5
            orders.add(*ORDERS[3:])
            await collector.poll()
            assert len(collector.spans) == len(ORDERS) + len(PAYMENT)
            assert orders.afters[-2:] == [0, 3]  # the second poll asked only for what was new


async def test_breaker_changes_are_recorded_and_a_vanished_instance_dropped(
    registry: MemoryRegistry,
) -> None:
    async with FakeInstance("orders") as orders, FakeInstance("payment") as payment:
        await registry.register(orders.instance(), ttl=60)
        await registry.register(payment.instance(), ttl=60)
        async with Collector(registry, interval=3600) as collector:
            orders.metrics_text = breaker_text("closed")
            await collector.poll()
            orders.metrics_text = breaker_text("open")
            await collector.poll()
            states = [(c["target"], c["state"]) for c in collector.breakers.changes]
            assert states[-1] == ("payment.charge", "open")
            assert ("payment.charge", "closed") in states
            assert collector.instances[orders.instance().id].breakers["payment.charge"] == "open"

            await registry.deregister(orders.instance())
            await collector.poll()
            assert set(collector.instances) == {payment.instance().id}


async def test_an_instance_without_the_endpoints_or_down_or_hung_does_not_stop_the_others(
    registry: MemoryRegistry,
) -> None:
    async with (
        FakeInstance("plain", metrics=False, spans=False) as plain,
        FakeInstance("hung") as hung,
        FakeInstance("analytics") as analytics,
        FakeInstance("gone") as gone,
    ):
        hung.hang = True
        analytics.add(*CONSUMERS)
        for fake in (plain, hung, analytics, gone):
            await registry.register(fake.instance(), ttl=60)
        down = gone.instance()
        await gone.__aexit__(None, None, None)
        async with Collector(registry, interval=3600, timeout=1.0) as collector:
            started = time.monotonic()
            await collector.poll()
            assert time.monotonic() - started < 10  # bounded by the timeout, not by the hang
            states = collector.instances
            assert len(collector.spans) == len(CONSUMERS)
            assert states[plain.instance().id].error is None
            assert not states[plain.instance().id].metrics
            assert states[hung.instance().id].error is not None
            assert states[down.id].error is not None
