"""balancer(kind): the factories App(load_balancer=...) takes, and the pick path they join."""

from __future__ import annotations

import functools

import pytest
from discovery_fleet import fleet

import interlink.discovery
from interlink import ConfigurationError
from interlink.discovery import (
    LoadBalancer,
    MemoryRegistry,
    OutlierDetector,
    OutlierEjecting,
    PeakEwma,
    PowerOfTwoChoices,
    Random,
    RingHash,
    RoundRobin,
    Weighted,
    balancer,
)
from interlink.discovery._cache import Discovery
from interlink.testing import FakeClock

KINDS = {
    "p2c": PowerOfTwoChoices,
    "peak_ewma": PeakEwma,
    "random": Random,
    "ring_hash": RingHash,
    "round_robin": RoundRobin,
    "weighted": Weighted,
}


def test_the_balancers_are_exported() -> None:
    assert set(KINDS.values()) | {OutlierDetector, OutlierEjecting} <= {
        getattr(interlink.discovery, name) for name in interlink.discovery.__all__
    }
    assert {"LoadBalancer", "balancer", "BalancerKind"} <= set(interlink.discovery.__all__)


@pytest.mark.parametrize(("kind", "cls"), KINDS.items())
def test_each_kind_is_built_behind_outlier_ejection_unless_told_not_to(
    kind: str, cls: type[LoadBalancer]
) -> None:
    built = balancer(kind)()  # type: ignore[arg-type]
    assert isinstance(built, OutlierEjecting)
    assert isinstance(built.balancer, cls)
    assert isinstance(built, LoadBalancer)
    bare = balancer(kind, eject=False)()  # type: ignore[arg-type]
    assert isinstance(bare, cls)
    instances = fleet(3)
    for each in (built, bare):
        chosen = each.pick(instances, "key")
        each.started(chosen)
        each.finished(chosen, 0.001, False)


def test_every_call_of_a_factory_builds_fresh_state() -> None:
    factory = balancer("p2c")
    first, second = factory(), factory()
    assert isinstance(first, OutlierEjecting)
    assert isinstance(second, OutlierEjecting)
    assert first.balancer is not second.balancer
    assert first.detector is not second.detector


def test_eject_may_make_the_detector(clock: FakeClock) -> None:
    built = balancer(
        "round_robin", eject=functools.partial(OutlierDetector, consecutive_failures=1, clock=clock)
    )()
    assert isinstance(built, OutlierEjecting)
    instances = fleet(2)
    built.pick(instances)
    built.finished(instances[0], 0.01, True)
    assert built.detector.ejected == {instances[0].id}


def test_an_unknown_kind_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="least_conn"):
        balancer("least_conn")  # type: ignore[arg-type]


async def test_on_the_discovery_pick_path_a_failing_instance_is_ejected(clock: FakeClock) -> None:
    registry = MemoryRegistry(clock=clock)
    instances = fleet(3)
    for instance in instances:
        await registry.register(instance, ttl=3600.0)
    bad = instances[0]
    discovery = Discovery(registry, balancer=balancer("p2c", clock=clock, seed=9), clock=clock)
    try:
        for _ in range(40):  # as RemoteCalls reports calls
            chosen, used = await discovery.pick("svc")
            used.started(chosen)
            used.finished(chosen, 0.001, chosen.id == bad.id)
        picked = {(await discovery.pick("svc"))[0].id for _ in range(50)}
        assert picked == {instances[1].id, instances[2].id}
        # Failing over away from both others leaves only the ejected one: panic, not an error.
        last, _ = await discovery.pick("svc", exclude=[instances[1].id, instances[2].id])
        assert last.id == bad.id
        clock.advance(30.0)
        picked = {(await discovery.pick("svc"))[0].id for _ in range(50)}
        assert bad.id in picked
    finally:
        await discovery.close()
        await registry.close()
