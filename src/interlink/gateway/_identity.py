"""Who is calling: what an authentication middleware leaves in ``scope["state"]["identity"]``."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Identity", "identity_of"]


@dataclass(frozen=True, slots=True)
class Identity:
    """The authenticated caller of one request or WebSocket connection."""

    subject: str
    claims: Mapping[str, Any]
    scopes: frozenset[str]
    method: Literal["jwt", "api_key"]


def identity_of(scope: MutableMapping[str, Any]) -> Identity | None:
    """The identity an authentication middleware stored in the ASGI scope, if any."""
    state = scope.get("state")
    if not isinstance(state, Mapping):
        return None
    found = state.get("identity")
    return found if isinstance(found, Identity) else None
