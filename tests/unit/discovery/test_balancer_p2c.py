"""Power of two choices: least outstanding calls of two random instances."""

from __future__ import annotations

import heapq
from collections import Counter

from discovery_fleet import fleet
from hypothesis import given
from hypothesis import strategies as st

from interlink.discovery import Instance, PowerOfTwoChoices
from interlink.discovery._p2c import distinct_pair


def test_an_instance_with_many_calls_in_flight_gets_none_while_others_are_idle() -> None:
    instances = fleet(5)
    balancer = PowerOfTwoChoices(seed=7)
    busy = instances[2]
    for _ in range(10):
        balancer.started(busy)
    counts = Counter(balancer.pick(instances).id for _ in range(4_000))
    assert counts[busy.id] == 0
    assert all(800 <= counts[i.id] <= 1_200 for i in instances if i is not busy), counts


def test_a_slow_instance_gets_clearly_less_than_its_share() -> None:
    """Calls arrive every tick; the slow instance takes 20 ticks, the others 2."""
    instances = fleet(4)
    slow = instances[0]
    balancer = PowerOfTwoChoices(seed=3)
    in_flight: list[tuple[int, int, Instance]] = []
    counts: Counter[str] = Counter()
    for tick in range(4_000):
        while in_flight and in_flight[0][0] <= tick:
            _, _, done = heapq.heappop(in_flight)
            balancer.finished(done, 0.0, False)
        chosen = balancer.pick(instances)
        balancer.started(chosen)
        counts[chosen.id] += 1
        heapq.heappush(in_flight, (tick + (20 if chosen is slow else 2), tick, chosen))
    assert counts[slow.id] < 0.5 * 4_000 / len(instances), counts


def test_ties_are_broken_randomly() -> None:
    pair = fleet(2)
    balancer = PowerOfTwoChoices(seed=11)
    counts = Counter(balancer.pick(pair).id for _ in range(2_000))
    assert 900 <= counts[pair[0].id] <= 1_100, counts


def test_outstanding_counts_started_minus_finished_and_never_goes_negative() -> None:
    (one,) = fleet(1)
    balancer = PowerOfTwoChoices()
    balancer.started(one)
    balancer.started(one)
    balancer.finished(one, 0.1, False)
    assert balancer.outstanding(one) == 1
    balancer.finished(one, 0.1, True)
    balancer.finished(one, 0.1, True)
    assert balancer.outstanding(one) == 0


def test_a_new_instance_list_is_followed_and_counts_survive_it() -> None:
    instances = fleet(3)
    balancer = PowerOfTwoChoices(seed=5)
    for _ in range(5):
        balancer.started(instances[0])
    balancer.pick(instances)
    grown = [*instances, *fleet(4)[3:]]
    picks = {balancer.pick(grown).id for _ in range(500)}
    assert picks == {i.id for i in grown[1:]}
    assert balancer.outstanding(instances[0]) == 5


@given(st.lists(st.integers(min_value=0, max_value=50), min_size=2, max_size=12), st.integers())
def test_the_single_most_loaded_instance_is_never_picked(loads: list[int], seed: int) -> None:
    instances = fleet(len(loads))
    balancer = PowerOfTwoChoices(seed=seed)
    for instance, load in zip(instances, loads, strict=True):
        for _ in range(load):
            balancer.started(instance)
    heaviest = max(loads)
    picked = balancer.pick(instances)
    if loads.count(heaviest) == 1:
        assert balancer.outstanding(picked) < heaviest


@given(
    st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    st.integers(min_value=2, max_value=50),
)
def test_one_draw_gives_two_different_indices_in_range(draw: float, n: int) -> None:
    first, second = distinct_pair(draw, n)
    assert 0 <= first < n
    assert 0 <= second < n
    assert first != second
