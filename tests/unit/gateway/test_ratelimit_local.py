"""The in-process limiter's algorithms on a fake clock."""

from __future__ import annotations

import pytest

from interlink.gateway import LocalStore
from interlink.testing import FakeClock


def allowed(store: LocalStore, n: int, algorithm: str = "sliding_window", key: str = "k") -> int:
    return sum(store.decide(key, algorithm, 3, 10).allowed for _ in range(n))  # type: ignore[arg-type]


def test_a_sliding_window_allows_the_limit_then_frees_each_slot_when_its_request_ages_out() -> None:
    clock = FakeClock()
    store = LocalStore(clock=clock)
    assert store.decide("k", "sliding_window", 3, 10).allowed
    clock.advance(4)
    assert allowed(store, 5) == 2  # t=4: three in the last 10 s
    denied = store.decide("k", "sliding_window", 3, 10)
    assert (denied.allowed, denied.remaining) == (False, 0)
    assert denied.retry_after == pytest.approx(6)  # the t=0 request leaves at t=10
    clock.advance(6)  # t=10: only the t=0 request left the window
    assert allowed(store, 5) == 1
    clock.advance(3.9)  # t=13.9: the two t=4 requests are still inside
    assert allowed(store, 5) == 0
    clock.advance(0.1)
    assert allowed(store, 5) == 2


def test_no_window_of_the_period_ever_holds_more_than_the_limit() -> None:
    clock = FakeClock()
    store = LocalStore(clock=clock)
    times = []
    for step in range(400):
        if store.decide("k", "sliding_window", 3, 10).allowed:
            times.append(clock.monotonic())
        clock.advance(0.7 if step % 3 else 1.3)
    assert max(sum(1 for t in times if start <= t < start + 10) for start in times) == 3


def test_a_token_bucket_bursts_to_its_capacity_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    store = LocalStore(clock=clock)
    assert allowed(store, 10, "token_bucket") == 3
    denied = store.decide("k", "token_bucket", 3, 10)
    assert denied.retry_after == pytest.approx(10 / 3)
    clock.advance(10 / 3)
    assert allowed(store, 10, "token_bucket") == 1
    clock.advance(100)  # refills stop at the capacity
    assert allowed(store, 10, "token_bucket") == 3


def test_keys_count_apart_and_the_table_is_bounded_least_recently_used_first() -> None:
    store = LocalStore(max_keys=2, clock=FakeClock())
    assert allowed(store, 5, key="a") == 3
    assert allowed(store, 5, key="b") == 3
    assert allowed(store, 1, key="a") == 0  # a is now the most recently used
    store.decide("c", "sliding_window", 3, 10)
    assert len(store) == 2
    assert allowed(store, 1, key="a") == 0  # a was kept
    assert allowed(store, 1, key="b") == 1  # b was evicted: it starts afresh
