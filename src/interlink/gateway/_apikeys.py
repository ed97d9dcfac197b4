"""ApiKeys: a static set of keys, each naming a consumer, checked by their SHA-256 digests."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from interlink.gateway._forward import FORWARDED, forward_headers
from interlink.gateway._identity import Identity, store_identity
from interlink.gateway._refusal import refuse

__all__ = ["ApiKey", "ApiKeys"]

_PREFIX = "sha256:"


@dataclass(frozen=True, kw_only=True)
class ApiKey:
    """Who a key belongs to: its subject, scopes and claims become the request's Identity."""

    subject: str
    scopes: Collection[str] = ()
    claims: Mapping[str, Any] = field(default_factory=dict)


class ApiKeys:
    """Accept a request only with a known key in ``header`` (or the ``query`` parameter).

    ``keys`` maps a key (or its digest, ``ApiKeys.digest(key)``, so plaintext keys need not
    be in the configuration) to its owner: an :class:`ApiKey` or just a subject. Only the
    digests are kept; a presented key is hashed and compared with ``hmac.compare_digest``.
    """

    def __init__(
        self,
        keys: Mapping[str, str | ApiKey],
        *,
        header: str = "x-api-key",
        query: str | None = None,
        required_scopes: Collection[str] = (),
    ) -> None:
        self.header = header.lower().encode("latin-1")
        self.query = query
        self.required_scopes = frozenset(required_scopes)
        self._owners: dict[bytes, tuple[bytes, Identity]] = {}
        for key, owner in keys.items():
            digest = bytes.fromhex(key[len(_PREFIX) :]) if key.startswith(_PREFIX) else _hash(key)
            who = owner if isinstance(owner, ApiKey) else ApiKey(subject=owner)
            identity = Identity(
                subject=who.subject,
                claims=dict(who.claims),
                scopes=frozenset(who.scopes),
                method="api_key",
            )
            self._owners[digest] = (digest, identity)

    @staticmethod
    def digest(key: str) -> str:
        """The form of ``key`` to put in a configuration instead of the key itself."""
        return _PREFIX + _hash(key).hex()

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def api_keys(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            identity = self.identify(scope)
            if identity is None:
                await refuse(scope, send, 401, "Unauthorized", "a valid API key is required")
                return
            missing = self.required_scopes - identity.scopes
            if missing:
                message = f"missing scopes: {' '.join(sorted(missing))}"
                await refuse(scope, send, 403, "Forbidden", message)
                return
            store_identity(scope, identity)
            scope["headers"] = forward_headers(
                scope["headers"], identity, FORWARDED | {self.header}
            )
            await app(scope, receive, send)

        return api_keys

    def identify(self, scope: Scope) -> Identity | None:
        """The owner of the key the request presents, or None."""
        presented = self._presented(scope)
        if presented is None:
            return None
        digest = _hash(presented)
        found = self._owners.get(digest)
        if found is None or not hmac.compare_digest(found[0], digest):
            return None
        return found[1]

    def _presented(self, scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == self.header:
                return str(value.decode("latin-1"))
        if self.query is not None:
            found = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(self.query)
            return found[0] if found else None
        return None


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
