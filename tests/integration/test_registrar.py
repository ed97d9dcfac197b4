"""The registrar probes what is registered and keeps each instance's health true."""

from __future__ import annotations

import pytest

import interlink as il
from interlink.discovery import Health, Instance, MemoryRegistry
from interlink.discovery._registrar import ProbeSettings, Registrar
from interlink.testing import FakeClock
from tests.conftest import free_port


@pytest.mark.parametrize("mode", ["http", "tcp"])
async def test_dead_instances_turn_critical_then_are_removed_live_ones_stay(mode: str) -> None:
    clock = FakeClock()
    registry = MemoryRegistry(clock=clock)
    settings = ProbeSettings(
        mode=mode, failures_before_critical=2, deregister_critical_after=30, interval=5, ttl=3600
    )
    dead = Instance(id="inventory-dead", service="inventory", address="127.0.0.1", port=free_port())
    async with il.App(
        [il.Service("inventory")], registry=registry, port=0, registration_ttl=3600
    ) as app:
        (live,) = app.runtime.instances
        await registry.register(dead, ttl=3600)
        registrar = Registrar(registry, settings=settings, clock=clock)

        first = await registrar.probe_once()
        assert first == {live.id: Health.PASSING, dead.id: Health.PASSING}  # one failure: not yet
        second = await registrar.probe_once()
        assert second[dead.id] is Health.CRITICAL
        assert {i.id: i.health for i in await registry.resolve("inventory")}[
            dead.id
        ] is Health.CRITICAL

        clock.advance(29)
        await registrar.probe_once()
        assert dead.id in {i.id for i in await registry.resolve("inventory")}
        clock.advance(1)
        await registrar.probe_once()
        assert [i.id for i in await registry.resolve("inventory")] == [live.id]
    await registry.close()


async def test_a_recovered_instance_passes_again() -> None:
    registry = MemoryRegistry()
    settings = ProbeSettings(failures_before_critical=1, success_before_passing=2, ttl=3600)
    async with il.App(
        [il.Service("pricing")], registry=registry, port=0, registration_ttl=3600
    ) as app:
        (live,) = app.runtime.instances
        await registry.register(live.with_health(Health.CRITICAL), ttl=3600)
        registrar = Registrar(registry, settings=settings)
        assert (await registrar.probe_once())[live.id] is Health.CRITICAL  # one success of two
        assert (await registrar.probe_once())[live.id] is Health.PASSING
    await registry.close()


def test_probe_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=">= 1"):
        ProbeSettings(failures_before_critical=0)
    with pytest.raises(ValueError, match="ttl longer"):
        ProbeSettings(interval=10, ttl=5)
