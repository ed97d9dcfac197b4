"""Outlier ejection on a fake clock: streaks, growing ejections, the 50% cap and panic mode."""

from __future__ import annotations

from datetime import timedelta

import pytest
from discovery_fleet import fleet
from hypothesis import given
from hypothesis import strategies as st

from interlink.discovery import Instance, OutlierDetector, OutlierEjecting, RoundRobin
from interlink.testing import FakeClock


def _fail(detector: OutlierDetector, instance: Instance, times: int) -> None:
    for _ in range(times):
        detector.record(instance, True)


def _watching(
    clock: FakeClock, instances: list[Instance], **options: float | timedelta
) -> OutlierDetector:
    detector = OutlierDetector(clock=clock, **options)  # type: ignore[arg-type]
    assert detector.filter(instances) is instances
    return detector


def test_five_consecutive_failures_eject_and_four_do_not(clock: FakeClock) -> None:
    instances = fleet(4)
    detector = _watching(clock, instances)
    _fail(detector, instances[0], 4)
    detector.record(instances[0], False)  # a success ends the streak
    _fail(detector, instances[0], 4)
    assert detector.ejected == frozenset()
    _fail(detector, instances[0], 1)
    assert detector.ejected == {instances[0].id}
    assert detector.filter(instances) == instances[1:]


def test_an_ejected_instance_is_readmitted_after_the_ejection_time(clock: FakeClock) -> None:
    instances = fleet(4)
    detector = _watching(clock, instances, base_ejection=30.0)
    _fail(detector, instances[1], 5)
    clock.advance(29.9)
    assert instances[1] not in detector.filter(instances)
    clock.advance(0.1)
    assert detector.filter(instances) is instances


def test_each_ejection_lasts_longer_up_to_the_maximum(clock: FakeClock) -> None:
    instances = fleet(4)
    detector = _watching(clock, instances, base_ejection=timedelta(seconds=30), max_ejection=80.0)
    lasted = []
    for _ in range(4):
        _fail(detector, instances[2], 5)
        began = clock.monotonic()
        while detector.ejected:
            clock.advance(1.0)
        lasted.append(clock.monotonic() - began)
    assert lasted == [30.0, 60.0, 80.0, 80.0]


def test_the_multiplier_falls_back_while_an_instance_stays_admitted(clock: FakeClock) -> None:
    instances = fleet(4)
    detector = _watching(clock, instances, base_ejection=10.0)
    _fail(detector, instances[0], 5)
    clock.advance(10.0)
    detector.filter(instances)
    _fail(detector, instances[0], 5)  # at once: the second ejection, 20 s
    clock.advance(20.0 + 10.0)  # then 10 s admitted: one step back
    detector.filter(instances)
    _fail(detector, instances[0], 5)
    clock.advance(19.9)
    assert detector.ejected == {instances[0].id}
    clock.advance(0.1)
    assert detector.ejected == frozenset()


def test_failures_of_calls_in_flight_when_ejected_do_not_count_later(clock: FakeClock) -> None:
    instances = fleet(2)
    detector = _watching(clock, instances, base_ejection=5.0)
    _fail(detector, instances[0], 5 + 4)
    clock.advance(5.0)
    assert detector.filter(instances) is instances
    _fail(detector, instances[0], 1)
    assert detector.ejected == frozenset()


@pytest.mark.parametrize(("count", "most"), [(1, 0), (2, 1), (3, 1), (4, 2), (5, 2), (10, 5)])
def test_at_most_half_of_the_instances_are_ejected(clock: FakeClock, count: int, most: int) -> None:
    instances = fleet(count)
    detector = _watching(clock, instances)
    for instance in instances:
        _fail(detector, instance, 5)
    assert len(detector.ejected) == most
    assert len(detector.filter(instances)) == count - most


def test_a_streak_held_back_by_the_cap_ejects_once_there_is_room(clock: FakeClock) -> None:
    instances = fleet(2)
    detector = _watching(clock, instances, base_ejection=30.0)
    _fail(detector, instances[0], 5)
    clock.advance(1.0)
    _fail(detector, instances[1], 7)
    assert detector.ejected == {instances[0].id}
    clock.advance(29.0)
    detector.filter(instances)
    _fail(detector, instances[1], 1)
    assert detector.ejected == {instances[1].id}


def test_panic_mode_ignores_ejections_when_too_few_would_be_left(clock: FakeClock) -> None:
    instances = fleet(4)
    detector = _watching(clock, instances)
    _fail(detector, instances[0], 5)
    _fail(detector, instances[1], 5)
    assert detector.filter(instances) == instances[2:]
    shrunk = instances[:3]  # a healthy one went away: 1 of 3 left is below 50%
    assert detector.filter(shrunk) is shrunk


def test_panic_threshold_applies_when_the_cap_allows_more(clock: FakeClock) -> None:
    instances = fleet(4)
    detector = _watching(clock, instances, max_ejection_percent=100.0, panic_threshold=50.0)
    for instance in instances[:2]:
        _fail(detector, instance, 5)
    assert detector.filter(instances) == instances[2:]
    _fail(detector, instances[2], 5)
    assert len(detector.ejected) == 3
    assert detector.filter(instances) is instances


def test_the_filtered_list_is_the_same_object_until_something_changes(clock: FakeClock) -> None:
    instances = fleet(4)
    detector = _watching(clock, instances, base_ejection=10.0)
    _fail(detector, instances[0], 5)
    kept = detector.filter(instances)
    assert detector.filter(instances) is kept
    clock.advance(10.0)
    assert detector.filter(instances) is instances


@given(st.lists(st.tuples(st.integers(0, 5), st.booleans(), st.floats(0, 40)), max_size=300))
def test_never_more_than_half_are_ejected(events: list[tuple[int, bool, float]]) -> None:
    clock = FakeClock()
    instances = fleet(6)
    detector = OutlierDetector(clock=clock, consecutive_failures=2, base_ejection=10.0)
    for index, failed, wait in events:
        detector.filter(instances)
        detector.record(instances[index], failed)
        clock.advance(wait)
        assert len(detector.ejected) <= 3


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="consecutive_failures"):
        OutlierDetector(consecutive_failures=0)
    with pytest.raises(ValueError, match="max_ejection_percent"):
        OutlierDetector(max_ejection_percent=150)
    with pytest.raises(ValueError, match="panic_threshold"):
        OutlierDetector(panic_threshold=-1)


def test_outlier_ejecting_picks_around_ejected_instances(clock: FakeClock) -> None:
    instances = fleet(3)
    balancer = OutlierEjecting(RoundRobin(), OutlierDetector(clock=clock))
    bad = instances[1]
    for _ in range(5):
        chosen = balancer.pick(instances)
        balancer.started(chosen)
        balancer.finished(chosen, 0.01, failed=chosen is bad)
    while bad.id not in balancer.detector.ejected:
        balancer.started(bad)
        balancer.finished(bad, 0.01, True)
    assert bad.id not in {balancer.pick(instances).id for _ in range(10)}
    clock.advance(30.0)
    assert bad.id in {balancer.pick(instances).id for _ in range(10)}
