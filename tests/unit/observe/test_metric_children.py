"""The kept histogram children: the same series as ``labels(...)``, and bounded."""

from __future__ import annotations

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client import CollectorRegistry, Histogram

from interlink.observe import _metrics
from interlink.observe._metrics import Children


def _count(registry: CollectorRegistry, label: str) -> float | None:
    return registry.get_sample_value("d_seconds_count", {"k": label})


def test_children_observe_the_labelled_series(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_metrics, "CHILDREN_KEPT", 2)
    registry = CollectorRegistry()
    children = Children(Histogram("d_seconds", "d", ("k",), registry=registry))
    for _ in range(3):
        for label in ("a", "b", "c", "d"):
            children.observe((label,), 0.01)
    assert [_count(registry, label) for label in "abcd"] == [3.0, 3.0, 3.0, 3.0]
    assert len(children._children) == 2  # the first two kept, the others looked up each time
