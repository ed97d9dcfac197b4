"""Random: uniform, and reproducible with a seed."""

from __future__ import annotations

from collections import Counter

from discovery_fleet import fleet

from interlink.discovery import LoadBalancer, Random, RoundRobin


def test_the_same_seed_gives_the_same_sequence_and_another_seed_another() -> None:
    instances = fleet(7)
    first, again, other = Random(seed=42), Random(seed=42), Random(seed=43)
    picks = [first.pick(instances).id for _ in range(200)]
    assert picks == [again.pick(instances).id for _ in range(200)]
    assert picks != [other.pick(instances).id for _ in range(200)]


def test_every_instance_gets_about_its_share() -> None:
    instances = fleet(5)
    balancer = Random(seed=1)
    counts = Counter(balancer.pick(instances).id for _ in range(10_000))
    assert set(counts) == {i.id for i in instances}
    assert all(1_800 <= n <= 2_200 for n in counts.values()), counts


def test_random_and_round_robin_are_load_balancers() -> None:
    one = fleet(1)
    for balancer in (Random(), RoundRobin()):
        assert isinstance(balancer, LoadBalancer)
        assert balancer.pick(one) is one[0]
        balancer.started(one[0])
        balancer.finished(one[0], 0.01, False)
