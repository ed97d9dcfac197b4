"""Field projection for BFF routes: ``{"id": "order_id", "total": "amount.total"}`` builds
an object with the keys on the left from the (dotted) fields on the right; a list is projected
element by element; a missing field is left out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["project"]

_MISSING = object()


def project(data: Any, spec: Mapping[str, str]) -> Any:
    if isinstance(data, list):
        return [project(item, spec) for item in data]
    if not isinstance(data, dict):
        return data
    result: dict[str, Any] = {}
    for name, source in spec.items():
        value = _get(data, source)
        if value is not _MISSING:
            result[name] = value
    return result


def _get(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return data
