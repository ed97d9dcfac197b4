"""Balancers by name, as the zero-argument factories ``App(load_balancer=...)`` takes.

``balancer("p2c")`` builds, for each target service, a fresh power-of-two-choices balancer
behind a fresh outlier detector; ``eject=False`` leaves the detector out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink._errors import ConfigurationError
from interlink.discovery._balancer import LoadBalancer, RoundRobin
from interlink.discovery._ewma import PeakEwma
from interlink.discovery._outlier import OutlierDetector, OutlierEjecting
from interlink.discovery._p2c import PowerOfTwoChoices
from interlink.discovery._random import Random
from interlink.discovery._ring_hash import RingHash
from interlink.discovery._weighted import Weighted

__all__ = ["BalancerKind", "balancer"]

BalancerKind = Literal["p2c", "peak_ewma", "random", "ring_hash", "round_robin", "weighted"]
_KINDS: frozenset[str] = frozenset(get_args(BalancerKind))


def balancer(
    kind: BalancerKind = "p2c",
    *,
    eject: bool | Callable[[], OutlierDetector] = True,
    clock: Clock = SYSTEM_CLOCK,
    seed: int | None = None,
) -> Callable[[], LoadBalancer]:
    """A factory of ``kind`` balancers, each wrapped in :class:`OutlierEjecting` unless
    ``eject`` is False. ``eject`` may also make the detector, e.g.
    ``functools.partial(OutlierDetector, consecutive_failures=3)``. ``clock`` times peak-EWMA
    and the default detector; ``seed`` makes the random choices reproducible.
    """
    if kind not in _KINDS:
        raise ConfigurationError(
            f"unknown load balancer {kind!r}: expected one of {', '.join(sorted(_KINDS))}"
        )
    return _Factory(kind, eject, clock, seed)


@dataclass(frozen=True, slots=True)
class _Factory:
    kind: BalancerKind
    eject: bool | Callable[[], OutlierDetector]
    clock: Clock
    seed: int | None

    def __call__(self) -> LoadBalancer:
        inner = self._inner()
        if self.eject is False:
            return inner
        detector = OutlierDetector(clock=self.clock) if self.eject is True else self.eject()
        return OutlierEjecting(inner, detector)

    def _inner(self) -> LoadBalancer:
        match self.kind:
            case "p2c":
                return PowerOfTwoChoices(seed=self.seed)
            case "peak_ewma":
                return PeakEwma(clock=self.clock, seed=self.seed)
            case "random":
                return Random(seed=self.seed)
            case "ring_hash":
                return RingHash(fallback=PowerOfTwoChoices(seed=self.seed))
            case "round_robin":
                return RoundRobin()
            case "weighted":
                return Weighted()

    def __repr__(self) -> str:
        return f"balancer({self.kind!r}, eject={self.eject!r})"
