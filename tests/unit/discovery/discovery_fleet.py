"""Fleets of instances for the discovery suite (imported by the tests beside it)."""

from __future__ import annotations

from collections.abc import Sequence

from interlink.discovery import Instance


def fleet(count: int, *, weights: Sequence[int] = (), service: str = "svc") -> list[Instance]:
    """``count`` instances sorted by id, as the discovery cache hands them to a balancer."""
    return [
        Instance(
            id=f"{service}-{k:03d}",
            service=service,
            address=f"10.0.{k // 250}.{k % 250 + 1}",
            port=8000,
            weight=weights[k] if weights else 100,
        )
        for k in range(count)
    ]
