"""Who a request comes from, as the authentication middleware established it."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Identity", "identity_of"]


@dataclass(frozen=True, slots=True)
class Identity:
    """The authenticated caller, stored at ``scope["state"]["identity"]``.

    Rate-limit keys, claim forwarding, WebSocket filters and BFF code read it from there.
    """

    subject: str
    claims: Mapping[str, Any]
    scopes: frozenset[str]
    method: Literal["jwt", "api_key"]


def identity_of(scope: Mapping[str, Any]) -> Identity | None:
    """The identity an auth middleware stored in ``scope``, or None."""
    state = scope.get("state")
    if state is None:
        return None
    found = state.get("identity")
    return found if isinstance(found, Identity) else None


def store_identity(scope: MutableMapping[str, Any], identity: Identity) -> None:
    """Put ``identity`` at ``scope["state"]["identity"]``, creating ``state`` if missing."""
    state = scope.get("state")
    if state is None:
        scope["state"] = state = {}
    state["identity"] = identity
