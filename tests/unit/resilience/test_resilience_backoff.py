"""Backoff schedules and the AWS jitter formulas."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interlink.resilience import Backoff


def test_constant_linear_and_exponential_without_jitter() -> None:
    assert [Backoff.constant(0.5)(n) for n in (1, 2, 3)] == [0.5, 0.5, 0.5]
    assert [Backoff.linear(0.5, max_delay=1.2)(n) for n in (1, 2, 3)] == [0.5, 1.0, 1.2]
    exp = Backoff.exponential(initial=0.1, multiplier=2.0, max_delay=0.5, jitter="none")
    assert [exp(n) for n in (1, 2, 3, 4)] == pytest.approx([0.1, 0.2, 0.4, 0.5])


def test_full_jitter_is_uniform_between_zero_and_the_capped_delay() -> None:
    exp = Backoff.exponential(initial=1.0, multiplier=2.0, max_delay=3.0, jitter="full")
    assert exp(3, random=lambda: 0.0) == 0.0
    assert exp(3, random=lambda: 0.5) == 1.5  # half of min(3, 4)


def test_equal_jitter_keeps_half_and_jitters_the_other_half() -> None:
    exp = Backoff.exponential(initial=1.0, multiplier=2.0, max_delay=10.0, jitter="equal")
    assert exp(2, random=lambda: 0.0) == 1.0
    assert exp(2, random=lambda: 0.5) == 1.5


def test_decorrelated_jitter_grows_from_the_previous_delay() -> None:
    exp = Backoff.exponential(initial=1.0, max_delay=10.0, jitter="decorrelated")
    assert exp(1, random=lambda: 0.0) == 1.0  # uniform(base, base * 3)
    assert exp(1, random=lambda: 1.0) == 3.0
    assert exp(2, previous=2.0, random=lambda: 1.0) == 6.0  # uniform(base, previous * 3)
    assert exp(3, previous=6.0, random=lambda: 1.0) == 10.0  # capped


def test_times_accept_timedelta_and_bad_arguments_are_refused() -> None:
    assert Backoff.constant(timedelta(milliseconds=250))(1) == 0.25
    with pytest.raises(ValueError, match="jitter"):
        Backoff.exponential(jitter="loud")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_delay"):
        Backoff.exponential(initial=2.0, max_delay=1.0)
    with pytest.raises(ValueError, match="multiplier"):
        Backoff.exponential(multiplier=0.5)
    with pytest.raises(ValueError, match="delay"):
        Backoff.constant(-1)
    with pytest.raises(ValueError, match="from 1"):
        Backoff.constant(1)(0)


@given(
    initial=st.floats(0.0, 5.0),
    multiplier=st.floats(1.0, 10.0),
    extra=st.floats(0.0, 100.0),
    jitter=st.sampled_from(["none", "full", "equal", "decorrelated"]),
    attempt=st.integers(1, 5000),
    previous=st.none() | st.floats(0.0, 1000.0),
    draw=st.floats(0.0, 1.0, exclude_max=True),
)
def test_every_delay_is_within_zero_and_max_delay(
    initial: float,
    multiplier: float,
    extra: float,
    jitter: str,
    attempt: int,
    previous: float | None,
    draw: float,
) -> None:
    backoff = Backoff.exponential(
        initial=initial,
        multiplier=multiplier,
        max_delay=initial + extra,
        jitter=jitter,  # type: ignore[arg-type]
    )
    delay = backoff(attempt, previous, random=lambda: draw)
    assert 0.0 <= delay <= backoff.max_delay
    assert math.isfinite(delay)
