"""Peak-EWMA: latency by load, decaying with time, on a fake clock."""

from __future__ import annotations

from collections import Counter

import pytest
from discovery_fleet import fleet

from interlink.discovery import Instance, PeakEwma
from interlink.testing import FakeClock


def _call(balancer: PeakEwma, clock: FakeClock, instance: Instance, seconds: float) -> None:
    balancer.started(instance)
    clock.advance(seconds)
    balancer.finished(instance, seconds, False)


def test_a_slow_instance_gets_clearly_less_than_its_share(clock: FakeClock) -> None:
    instances = fleet(3)
    slow = instances[1]
    balancer = PeakEwma(clock=clock, seed=2)
    counts: Counter[str] = Counter()
    for _ in range(3_000):
        chosen = balancer.pick(instances)
        counts[chosen.id] += 1
        _call(balancer, clock, chosen, 0.100 if chosen is slow else 0.010)
    assert counts[slow.id] < 0.1 * 3_000, counts


def test_calls_in_flight_multiply_the_latency(clock: FakeClock) -> None:
    pair = fleet(2)
    balancer = PeakEwma(clock=clock, seed=4)
    for instance in pair:
        _call(balancer, clock, instance, 0.010)
    for _ in range(3):
        balancer.started(pair[0])
    assert {balancer.pick(pair).id for _ in range(100)} == {pair[1].id}


def test_a_slower_observation_is_taken_at_once_a_faster_one_gradually(clock: FakeClock) -> None:
    (one,) = fleet(1)
    balancer = PeakEwma(clock=clock, decay=10.0)
    _call(balancer, clock, one, 0.010)
    _call(balancer, clock, one, 0.500)
    assert balancer.estimate(one) == pytest.approx(0.500)
    _call(balancer, clock, one, 0.010)
    # 10 ms after the peak: weight exp(-0.01 / 10), the estimate barely moves
    assert 0.49 < (balancer.estimate(one) or 0.0) < 0.5


def test_an_idle_estimate_decays_so_a_once_slow_instance_is_tried_again(clock: FakeClock) -> None:
    pair = fleet(2)
    slow, fast = pair
    balancer = PeakEwma(clock=clock, decay=10.0, seed=1)
    _call(balancer, clock, slow, 1.0)
    _call(balancer, clock, fast, 0.010)
    retried_at = None
    while retried_at is None and clock.monotonic() < 120.0:
        chosen = balancer.pick(pair)
        if chosen is slow:
            retried_at = clock.monotonic()
        _call(balancer, clock, chosen, 0.010)
        clock.advance(0.1)
    # 1 s decays below the fast instance's 10 ms after ln(100) time constants, about 46 s.
    assert retried_at is not None
    assert 40.0 < retried_at < 50.0
    assert balancer.estimate(slow) == pytest.approx(0.010, rel=0.05)
    assert balancer.estimate(fast) == pytest.approx(0.010, rel=0.05)


def test_a_fast_failure_does_not_make_an_instance_look_fast(clock: FakeClock) -> None:
    (one,) = fleet(1)
    balancer = PeakEwma(clock=clock)
    _call(balancer, clock, one, 0.200)
    balancer.started(one)
    balancer.finished(one, 0.001, True)
    assert balancer.estimate(one) == pytest.approx(0.200)


def test_a_cold_instance_starts_at_the_mean_of_the_measured_ones(clock: FakeClock) -> None:
    instances = fleet(3)
    balancer = PeakEwma(clock=clock, default_rtt=0.5)
    balancer.pick(instances[:2])
    _call(balancer, clock, instances[0], 0.020)
    _call(balancer, clock, instances[1], 0.040)
    assert balancer.estimate(instances[2]) is None
    balancer.pick(instances)
    assert balancer.estimate(instances[2]) == pytest.approx(0.030, rel=1e-2)


def test_with_nothing_measured_every_instance_starts_at_default_rtt(clock: FakeClock) -> None:
    instances = fleet(3)
    balancer = PeakEwma(clock=clock, default_rtt=0.25)
    balancer.pick(instances)
    assert [balancer.estimate(i) for i in instances] == [0.25] * 3


def test_decay_must_be_positive() -> None:
    with pytest.raises(ValueError, match="decay"):
        PeakEwma(decay=0)
