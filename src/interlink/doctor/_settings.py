"""The doctor's thresholds: defaults, and ``name=value`` overrides from the command line."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

__all__ = ["Thresholds", "parse_settings"]


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Thresholds:
    """Each rule fires when its measure reaches (``>=``) its threshold."""

    chain_depth: int = 3
    """IL101: synchronous calls in a row (A→B→C→D is 3)."""
    fan_out: int = 6
    """IL109: distinct RPCs one handler calls synchronously."""
    chatty_calls: int = 10
    """IL110: calls from one service to another within one trace."""
    hub_degree: int = 5
    """IL111: distinct services a service calls or is called by, synchronously."""
    retry_product: int = 10
    """IL112: attempts multiplied along one chain (3 attempts x 4 step attempts = 12)."""
    trace_retries: int = 5
    """IL112: retried calls seen within one trace."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field.name} must be a whole number >= 1, not {value!r}")


def parse_settings(pairs: Iterable[str], base: Thresholds | None = None) -> Thresholds:
    """``["chain_depth=4", "fan_out=8"]`` → Thresholds; a ValueError names a bad pair."""
    names = {field.name for field in dataclasses.fields(Thresholds)}
    changes: dict[str, int] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or name not in names:
            raise ValueError(f"expected NAME=NUMBER with NAME one of {sorted(names)}, got {pair!r}")
        try:
            changes[name] = int(raw)
        except ValueError:
            raise ValueError(f"{name} takes a whole number, not {raw!r}") from None
    return dataclasses.replace(base or Thresholds(), **changes)
