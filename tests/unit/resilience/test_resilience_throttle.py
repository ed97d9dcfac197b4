"""AdaptiveThrottle: the SRE book's client-side throttling."""

from __future__ import annotations

import pytest

from interlink._errors import ServiceUnavailable
from interlink.resilience import AdaptiveThrottle, BulkheadFull, CallNotPermitted
from interlink.resilience._events import Event, EventKind
from interlink.testing import FakeClock


def test_a_healthy_backend_is_never_throttled(clock: FakeClock) -> None:
    throttle = AdaptiveThrottle(clock=clock, random=lambda: 0.0)
    for _ in range(1000):
        assert throttle.try_acquire()
        throttle.on_success()
    assert throttle.rejection_probability == 0.0


def test_rejection_probability_follows_the_formula(clock: FakeClock) -> None:
    throttle = AdaptiveThrottle(k=2.0, clock=clock, random=lambda: 1.0)
    for _ in range(10):
        assert throttle.try_acquire()
        throttle.on_success()
    for _ in range(30):
        assert throttle.try_acquire()
        throttle.on_error(ServiceUnavailable("overloaded"))
    # requests 40, accepts 10: (40 - 2 * 10) / 41
    assert throttle.rejection_probability == pytest.approx(20 / 41)


def test_refuses_at_random_in_proportion_and_counts_refusals_as_requests(
    clock: FakeClock,
) -> None:
    draws = iter([1.0, 1.0, 1.0, 0.9, 0.1])  # the first request has p = 0 and draws nothing
    throttle = AdaptiveThrottle(k=1.0, clock=clock, random=lambda: next(draws))
    seen: list[Event] = []
    throttle.subscribe(seen.append)
    for _ in range(4):
        assert throttle.try_acquire()
        throttle.on_error(ServiceUnavailable("overloaded"))
    # 4 requests, 0 accepts: p = 4/5 and a draw of 0.9 passes; then p = 5/6 and 0.1 is refused
    assert throttle.try_acquire()
    assert not throttle.try_acquire()
    assert [e.kind for e in seen] == [EventKind.THROTTLED]
    assert throttle.rejection_probability == pytest.approx(6 / 7)


def test_the_window_forgets_old_traffic(clock: FakeClock) -> None:
    throttle = AdaptiveThrottle(window=10, clock=clock, random=lambda: 1.0)
    for _ in range(20):
        throttle.try_acquire()
        throttle.on_error(ServiceUnavailable("overloaded"))
    assert throttle.rejection_probability > 0.9
    clock.advance(10)
    assert throttle.rejection_probability == 0.0


async def test_call_raises_call_not_permitted_without_calling(clock: FakeClock) -> None:
    throttle = AdaptiveThrottle(k=1.0, clock=clock, random=lambda: 0.0)

    async def overloaded() -> None:
        raise ServiceUnavailable("overloaded")

    with pytest.raises(ServiceUnavailable):
        await throttle.call(overloaded)
    with pytest.raises(CallNotPermitted, match="throttle"):
        await throttle.call(overloaded)


def test_only_matching_errors_and_not_local_refusals_count_against_the_backend(
    clock: FakeClock,
) -> None:
    throttle = AdaptiveThrottle(on=ServiceUnavailable, clock=clock)
    for error in (ValueError("bad input"), BulkheadFull("local")):
        throttle.try_acquire()
        throttle.on_error(error)
    assert throttle.rejection_probability == 0.0


@pytest.mark.parametrize(("option", "value"), [("k", 0.5), ("window", 0)])
def test_throttle_arguments_are_checked(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=option):
        AdaptiveThrottle(**{option: value})  # type: ignore[arg-type]
