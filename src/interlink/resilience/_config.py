"""Argument checking shared by every policy: durations, rates and error matchers."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeAlias, cast

from interlink._clock import SYSTEM_CLOCK, Clock, SystemClock

__all__ = [
    "ErrorSpec",
    "Seconds",
    "as_clock",
    "fraction",
    "matcher",
    "monotonic_reader",
    "seconds",
    "whole_seconds",
]

Seconds: TypeAlias = float | timedelta
"""A duration: seconds as a number, or a :class:`datetime.timedelta`."""

ErrorSpec: TypeAlias = (
    type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
)
"""Which errors a setting applies to: exception types, or a predicate on the exception."""


def as_clock(clock: Clock | None) -> Clock:
    return SYSTEM_CLOCK if clock is None else clock


def monotonic_reader(clock: Clock) -> Callable[[], float]:
    """``clock.monotonic``, minus a Python frame on the real clock (hot paths read it twice)."""
    return time.monotonic if isinstance(clock, SystemClock) else clock.monotonic


def seconds(value: Seconds, what: str, *, positive: bool = False) -> float:
    """``value`` in seconds; raises ValueError when negative (or zero, when ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | timedelta):
        raise TypeError(f"{what} must be seconds (a number or a timedelta), not {value!r}")
    result = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if math.isnan(result) or result < 0 or (positive and result == 0):
        bound = "greater than 0" if positive else "0 or more"
        raise ValueError(f"{what} must be {bound} seconds, not {value!r}")
    return result


def whole_seconds(value: Seconds, what: str) -> int:
    """A positive whole number of seconds (windows are made of one-second buckets)."""
    result = seconds(value, what, positive=True)
    if not result.is_integer():
        raise ValueError(f"{what} must be a whole number of seconds, not {value!r}")
    return int(result)


def fraction(value: float, what: str) -> float:
    """A rate in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number in (0, 1], not {value!r}")
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{what} must be a fraction in (0, 1], not {value!r}")
    return float(value)


def matcher(spec: ErrorSpec, what: str) -> Callable[[BaseException], bool]:
    """Turn exception types or a predicate into a predicate."""
    if isinstance(spec, type) and issubclass(spec, BaseException):
        return lambda exc: isinstance(exc, spec)
    if isinstance(spec, tuple):
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in spec):
            raise TypeError(f"{what} must hold exception types only, not {spec!r}")
        if not spec:
            return _never
        return lambda exc: isinstance(exc, spec)
    if callable(spec):
        return cast(Callable[[BaseException], bool], spec)
    raise TypeError(f"{what} must be exception types or a predicate, not {spec!r}")


def _never(exc: BaseException) -> bool:
    return False
