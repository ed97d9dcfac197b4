"""AdaptiveThrottle: client-side throttling from Google's SRE book ("Handling Overload").

The client remembers, over the last ``window`` seconds, how many requests the application
attempted and how many the backend accepted, and refuses a new request locally with probability
``max(0, (requests - k * accepts) / (requests + 1))``. A healthy backend accepts everything and
nothing is refused; an overloaded one sheds load before it reaches the network.
"""

from __future__ import annotations

import random as _random
from collections.abc import Awaitable, Callable
from typing import Any

from interlink._clock import Clock
from interlink._errors import BulkheadFull, CallNotPermitted
from interlink.resilience._config import ErrorSpec, Seconds, matcher, whole_seconds
from interlink.resilience._events import EventKind
from interlink.resilience._link import Next, PolicyBase
from interlink.resilience._rolling import RollingSums

__all__ = ["AdaptiveThrottle"]

_REQUESTS, _ACCEPTS = 0, 1
# A refusal by a local policy inside the throttle is not the backend refusing.
_LOCAL_REFUSALS = (CallNotPermitted, BulkheadFull)


class AdaptiveThrottle(PolicyBase):
    """Refuse calls locally, at random, in proportion to how much the backend is refusing.

    An error matching ``on`` counts as a refusal by the backend; any other outcome (including a
    local policy's refusal from further in) counts as accepted. Refused calls raise :class:`CallNotPermitted`. ``k`` (>= 1) is how many requests
    are allowed per accepted one: lower is more aggressive.
    """

    __slots__ = ("_counts", "_on", "_random", "k", "window")
    source = "throttle"

    def __init__(
        self,
        *,
        k: float = 2.0,
        window: Seconds = 120,
        on: ErrorSpec = Exception,
        random: Callable[[], float] = _random.random,
        clock: Clock | None = None,
        name: str = "",
    ) -> None:
        super().__init__(name=name, clock=clock)
        if isinstance(k, bool) or not isinstance(k, int | float) or not k >= 1.0:
            raise ValueError(f"k must be a number >= 1, not {k!r}")
        self.k = float(k)
        self.window = whole_seconds(window, "window")
        self._on = matcher(on, "on")
        self._random = random
        self._counts = RollingSums(self.window, 2, self.clock)

    def __repr__(self) -> str:
        return f"AdaptiveThrottle(k={self.k}, window={self.window})"

    @property
    def rejection_probability(self) -> float:
        """The chance that the next call is refused."""
        self._counts.refresh()
        requests, accepts = self._counts.totals
        return max(0.0, (requests - self.k * accepts) / (requests + 1))

    def try_acquire(self) -> bool:
        """Count a request and decide whether it may go out."""
        counts = self._counts
        counts.add(_REQUESTS)
        requests, accepts = counts.totals
        # The odds come from the requests before this one: (requests - 1) + 1 in the divisor.
        refuse = (requests - 1 - self.k * accepts) / requests
        if refuse > 0.0 and self._random() < refuse:
            self._emit(EventKind.THROTTLED)
            return False
        return True

    def on_success(self) -> None:
        self._counts.add(_ACCEPTS)

    def on_error(self, exc: BaseException) -> None:
        if isinstance(exc, _LOCAL_REFUSALS) or not self._on(exc):
            self._counts.add(_ACCEPTS)

    async def _link(
        self,
        nxt: Next,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float | None,
    ) -> Any:
        if not self.try_acquire():
            raise CallNotPermitted(
                f"adaptive throttle {self.name!r} refused the call", name=self.name
            )
        try:
            result = await nxt(fn, args, kwargs, deadline)
        except Exception as exc:
            self.on_error(exc)
            raise
        self._counts.add(_ACCEPTS)
        return result
