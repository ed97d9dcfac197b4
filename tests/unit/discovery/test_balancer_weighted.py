"""Smooth weighted round robin: exactly nginx's order, whether precomputed or run live."""

from __future__ import annotations

from collections import Counter

from discovery_fleet import fleet
from hypothesis import given
from hypothesis import strategies as st

from interlink.discovery import Weighted


def _nginx(weights: list[int], picks: int) -> list[int]:
    """ngx_http_upstream_get_peer, transcribed: the reference order."""
    current = [0] * len(weights)
    total = sum(weights)
    order = []
    for _ in range(picks):
        best = None
        for k, weight in enumerate(weights):
            current[k] += weight
            if best is None or current[k] > current[best]:
                best = k
        assert best is not None
        current[best] -= total
        order.append(best)
    return order


def test_weights_5_1_1_give_a_a_b_a_c_a_a_and_repeat() -> None:
    instances = fleet(3, weights=[5, 1, 1])
    balancer = Weighted()
    picks = "".join("abc"[instances.index(balancer.pick(instances))] for _ in range(14))
    assert picks == "aabacaa" * 2


@given(st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=8))
def test_the_order_is_nginx_order(weights: list[int]) -> None:
    instances = fleet(len(weights), weights=weights)
    balancer = Weighted()
    picks = [instances.index(balancer.pick(instances)) for _ in range(2 * sum(weights))]
    assert picks == _nginx(weights, 2 * sum(weights))
    assert Counter(picks) == {k: 2 * w for k, w in enumerate(weights)}


def test_a_cycle_too_long_to_precompute_runs_live_in_the_same_order() -> None:
    weights = [40_009, 30_011, 7]  # a cycle of 70,027 picks over 3 instances
    instances = fleet(3, weights=weights)
    balancer = Weighted()
    picks = [instances.index(balancer.pick(instances)) for _ in range(500)]
    assert balancer._cycle is None
    assert picks == _nginx(weights, 500)


def test_weight_zero_gets_nothing_unless_every_weight_is_zero() -> None:
    some = fleet(3, weights=[0, 100, 100])
    balancer = Weighted()
    assert {balancer.pick(some).id for _ in range(20)} == {some[1].id, some[2].id}
    none = fleet(2, weights=[0, 0])
    assert {balancer.pick(none).id for _ in range(4)} == {none[0].id, none[1].id}


def test_equal_weights_are_plain_round_robin() -> None:
    instances = fleet(4)
    balancer = Weighted()
    assert [balancer.pick(instances) for _ in range(8)] == instances * 2
