"""Ring hash: a key sticks to its instance, and a change in the set moves few keys."""

from __future__ import annotations

import random
from collections import Counter

from discovery_fleet import fleet
from hypothesis import given, settings
from hypothesis import strategies as st

from interlink.discovery import Instance, PowerOfTwoChoices, RingHash

KEYS = [f"user-{k}" for k in range(5_000)]


def _owners(balancer: RingHash, instances: list[Instance]) -> dict[str, str]:
    return {key: balancer.pick(instances, key).id for key in KEYS}


def test_the_same_key_maps_to_the_same_instance_in_every_client() -> None:
    instances = fleet(5)
    first, second = RingHash(), RingHash()
    owners = _owners(first, instances)
    assert owners == _owners(first, instances)
    assert owners == _owners(second, instances)


def test_the_order_of_the_instance_list_does_not_matter() -> None:
    instances = fleet(6)
    shuffled = instances[:]
    random.Random(3).shuffle(shuffled)
    balancer = RingHash()
    assert _owners(balancer, instances) == _owners(balancer, shuffled)


def test_keys_spread_over_every_instance() -> None:
    instances = fleet(10)
    counts = Counter(_owners(RingHash(), instances).values())
    assert len(counts) == 10
    assert all(300 <= n <= 700 for n in counts.values()), counts


def test_adding_one_instance_of_n_moves_about_one_nth_of_the_keys_all_to_it() -> None:
    instances = fleet(11)
    balancer = RingHash()
    before = _owners(balancer, instances[:10])
    after = _owners(balancer, instances)
    moved = [key for key in KEYS if before[key] != after[key]]
    assert {after[key] for key in moved} == {instances[10].id}
    assert len(moved) <= 2 * len(KEYS) / 11  # ideal 1/11; 100 points each keep it near


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=2, max_value=12), st.data())
def test_removing_an_instance_moves_only_the_keys_it_owned(count: int, data: st.DataObject) -> None:
    instances = fleet(count)
    gone = data.draw(st.sampled_from(instances))
    balancer = RingHash(replicas=20)
    before = _owners(balancer, instances)
    after = _owners(balancer, [i for i in instances if i is not gone])
    for key in KEYS:
        if before[key] != gone.id:
            assert after[key] == before[key]


def test_a_heavier_instance_owns_more_of_the_ring() -> None:
    instances = fleet(3, weights=[300, 100, 100])
    counts = Counter(_owners(RingHash(), instances).values())
    assert counts[instances[0].id] > 2 * max(counts[instances[1].id], counts[instances[2].id])


def test_without_a_key_the_fallback_picks_and_counts_the_calls() -> None:
    instances = fleet(3)
    fallback = PowerOfTwoChoices(seed=1)
    balancer = RingHash(fallback=fallback)
    assert {balancer.pick(instances).id for _ in range(100)} == {i.id for i in instances}
    balancer.started(instances[0])
    assert fallback.outstanding(instances[0]) == 1
    balancer.finished(instances[0], 0.01, False)
    assert fallback.outstanding(instances[0]) == 0


def test_a_ring_is_rebuilt_only_when_the_set_of_ids_changes() -> None:
    instances = fleet(4)
    balancer = RingHash()
    balancer.pick(instances, "k")
    ring = balancer._points
    balancer.pick(list(instances), "k")  # a new list, the same ids: the cached ring
    assert balancer._points is ring
    balancer.pick(instances[:3], "k")
    assert balancer._points is not ring
