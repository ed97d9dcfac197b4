"""Backoff: how long to wait before retry number n, with the AWS jitter formulas.

The jitter variants are those of Marc Brooker's "Exponential Backoff And Jitter" (AWS
Architecture Blog, 2015), with ``base`` = ``initial`` and ``cap`` = ``max_delay``:

- none:          ``min(cap, base * multiplier ** (n - 1))``
- full:          ``uniform(0, that)``
- equal:         ``that / 2 + uniform(0, that / 2)``
- decorrelated:  ``min(cap, uniform(base, previous * 3))``, starting from ``previous = base``
"""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

from interlink.resilience._config import Seconds, seconds

__all__ = ["Backoff", "Jitter"]

Jitter: TypeAlias = Literal["none", "full", "equal", "decorrelated"]
_JITTERS = ("none", "full", "equal", "decorrelated")


@dataclass(frozen=True, kw_only=True, slots=True)
class Backoff:
    """A delay schedule. Build one with :meth:`constant`, :meth:`linear` or :meth:`exponential`.

    ``backoff(n)`` is the delay before retry ``n`` (1 for the first retry), always within
    ``[0, max_delay]``; a Backoff can therefore also serve as a breaker's ``wait_in_open``.
    """

    initial: float
    multiplier: float
    growth: Literal["constant", "linear", "exponential"]
    max_delay: float
    jitter: Jitter

    def __post_init__(self) -> None:
        if self.jitter not in _JITTERS:
            raise ValueError(f"jitter must be one of {', '.join(_JITTERS)}, not {self.jitter!r}")
        if self.max_delay < self.initial:
            raise ValueError(
                f"max_delay ({self.max_delay}) must not be below the first delay ({self.initial})"
            )
        if self.multiplier < 1.0:
            raise ValueError(f"multiplier must be >= 1, not {self.multiplier!r}")

    @classmethod
    def constant(cls, delay: Seconds, *, jitter: Jitter = "none") -> Backoff:
        """The same ``delay`` before every retry."""
        d = seconds(delay, "delay")
        return cls(initial=d, multiplier=1.0, growth="constant", max_delay=d, jitter=jitter)

    @classmethod
    def linear(
        cls, delay: Seconds, *, max_delay: Seconds = math.inf, jitter: Jitter = "none"
    ) -> Backoff:
        """``delay``, ``2 * delay``, ``3 * delay``, … up to ``max_delay``."""
        d = seconds(delay, "delay")
        cap = seconds(max_delay, "max_delay")
        return cls(initial=d, multiplier=1.0, growth="linear", max_delay=cap, jitter=jitter)

    @classmethod
    def exponential(
        cls,
        *,
        initial: Seconds = 0.1,
        multiplier: float = 2.0,
        max_delay: Seconds = 10.0,
        jitter: Jitter = "full",
    ) -> Backoff:
        """``initial * multiplier ** (n - 1)`` up to ``max_delay``, jittered."""
        return cls(
            initial=seconds(initial, "initial"),
            multiplier=float(multiplier),
            growth="exponential",
            max_delay=seconds(max_delay, "max_delay"),
            jitter=jitter,
        )

    def __call__(
        self,
        attempt: int,
        previous: float | None = None,
        *,
        random: Callable[[], float] = _random.random,
    ) -> float:
        """The delay before retry ``attempt``; ``previous`` feeds decorrelated jitter."""
        if attempt < 1:
            raise ValueError(f"retries are numbered from 1, not {attempt!r}")
        if self.jitter == "decorrelated":
            low = self.initial
            high = 3.0 * (low if previous is None else max(previous, low))
            return min(self.max_delay, low + (high - low) * random())
        delay = self._undisturbed(attempt)
        if self.jitter == "full":
            return delay * random()
        if self.jitter == "equal":
            return delay / 2.0 + delay / 2.0 * random()
        return delay

    def _undisturbed(self, attempt: int) -> float:
        if self.growth == "constant":
            return self.initial
        if self.growth == "linear":
            return min(self.max_delay, self.initial * attempt)
        try:
            return min(self.max_delay, self.initial * self.multiplier ** (attempt - 1))
        except OverflowError:
            return self.max_delay
