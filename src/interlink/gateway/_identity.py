"""Who made a request, as the authentication middleware found it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Identity"]


@dataclass(frozen=True, kw_only=True)
class Identity:
    """Stored by the auth middleware at ``scope["state"]["identity"]``; rate-limit keys, claim
    forwarding, WebSocket filters and BFF code read it from there."""

    subject: str
    claims: Mapping[str, Any]
    scopes: frozenset[str]
    method: Literal["jwt", "api_key"]
