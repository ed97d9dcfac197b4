"""Who made a request, as the authentication middleware found it."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Identity", "identity_of"]


@dataclass(frozen=True, kw_only=True)
class Identity:
    """Stored by the auth middleware at ``scope["state"]["identity"]``; rate-limit keys, claim
    forwarding, WebSocket filters and BFF code read it from there."""

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
