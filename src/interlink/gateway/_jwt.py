"""JwtAuth: bearer tokens checked against a JWKS, the caller's claims forwarded upstream."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.gateway._forward import FORWARDED, forward_headers
from interlink.gateway._identity import Identity, store_identity
from interlink.gateway._jwks import Jwks, JwksUnavailable
from interlink.gateway._refusal import refuse

__all__ = ["JwtAuth"]

ClaimCheck = Callable[[Any], bool]
_TOKEN_CACHE_TTL = 60.0


class _Refused(Exception):
    def __init__(self, status: int, error_type: str, message: str, challenge: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.challenge = status, error_type, challenge


class JwtAuth:
    """Accept a request only with a valid ``Authorization: Bearer`` JWT.

    The signature is checked against the key set at ``jwks_url`` (see :class:`Jwks`); then
    ``exp`` (required), ``nbf``, ``iss`` and ``aud`` with ``leeway`` seconds, every scope in
    ``required_scopes``, and each ``claims`` check (a value the claim must equal, or a
    predicate it must satisfy). Valid tokens are kept in a bounded cache (``token_cache``
    entries, each at most 60 s, never past its ``exp``, and only while the key set that
    verified it is the current one), so a repeated token skips the signature check.
    """

    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        jwks: Jwks | None = None,
        issuer: str | Collection[str] | None,
        audience: str | Collection[str] | None,
        algorithms: Collection[str] = ("RS256", "ES256"),
        required_scopes: Collection[str] = (),
        claims: Mapping[str, Any] | None = None,
        leeway: float | timedelta = 0.0,
        forward_claims: Mapping[str, str] | None = None,
        query_param: str | None = None,
        realm: str = "interlink",
        token_cache: int = 1024,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if (jwks_url is None) == (jwks is None):
            raise ValueError("give exactly one of jwks_url= or jwks=")
        self.jwks = jwks if jwks is not None else Jwks(str(jwks_url), clock=clock)
        self.issuer = issuer
        self.audience = (
            audience if audience is None or isinstance(audience, str) else list(audience)
        )
        self.algorithms = frozenset(algorithms)
        self.required_scopes = frozenset(required_scopes)
        self.claims = dict(claims or {})
        self.leeway = leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)
        self.forward_claims = {
            claim: header.lower().encode("latin-1")
            for claim, header in (forward_claims or {}).items()
        }
        self.query_param = query_param
        self.realm = realm
        self.clock = clock
        self._strip = FORWARDED | frozenset(self.forward_claims.values())
        self._cache: OrderedDict[str, tuple[float, int, Identity]] = OrderedDict()
        self._cache_size = token_cache

    async def __aenter__(self) -> JwtAuth:
        await self.jwks.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.jwks.aclose()

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def jwt_auth(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            try:
                identity = await self.authenticate(scope)
            except _Refused as refused:
                header = (b"www-authenticate", refused.challenge.encode("latin-1"))
                extra = [header] if refused.challenge else []
                if refused.status == 503:
                    extra.append((b"retry-after", b"5"))
                await refuse(scope, send, refused.status, refused.error_type, str(refused), extra)
                return
            store_identity(scope, identity)
            scope["headers"] = forward_headers(
                scope["headers"], identity, self._strip, self._claim_headers(identity)
            )
            await app(scope, receive, send)

        return jwt_auth

    async def authenticate(self, scope: Scope) -> Identity:
        """The identity in the request's token; raises the refusal otherwise."""
        token = self._token(scope)
        if token is None:
            raise _Refused(401, "Unauthorized", "a bearer token is required", self._challenge())
        now = self.clock.time()
        cached = self._cache.get(token)
        # Invariant: a cached verdict holds only for the key set that produced it, while valid.
        if (
            cached is not None
            and cached[0] > now
            and cached[1] == self.jwks.generation
            and self.jwks.valid()
        ):
            self._cache.move_to_end(token)
            return cached[2]
        payload = await self._verify(token)
        generation = self.jwks.generation
        identity = Identity(
            subject=str(payload.get("sub", "")),
            claims=payload,
            scopes=_scopes(payload),
            method="jwt",
        )
        self._authorize(identity)
        expires = min(float(payload["exp"]) + self.leeway, now + _TOKEN_CACHE_TTL)
        self._cache[token] = (expires, generation, identity)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return identity

    async def _verify(self, token: str) -> dict[str, Any]:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if algorithm not in self.algorithms:
                raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")
            try:
                key = await self.jwks.key(header.get("kid"))
            except JwksUnavailable as exc:
                raise _Refused(503, "ServiceUnavailable", str(exc), "") from exc
            if key is None:
                raise jwt.InvalidKeyError("unknown signing key")
            payload: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["exp"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise _Refused(401, "Unauthorized", str(exc), self._challenge("invalid_token")) from exc
        return payload

    def _authorize(self, identity: Identity) -> None:
        missing = self.required_scopes - identity.scopes
        if missing:
            scope = " ".join(sorted(self.required_scopes))
            challenge = self._challenge("insufficient_scope") + f', scope="{scope}"'
            raise _Refused(
                403, "Forbidden", f"missing scopes: {' '.join(sorted(missing))}", challenge
            )
        for name, expected in self.claims.items():
            value = identity.claims.get(name)
            ok = expected(value) if callable(expected) else value == expected
            if not ok:
                raise _Refused(403, "Forbidden", f"claim {name!r} is not accepted", "")

    def _token(self, scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                return token.strip() or None if scheme.lower() == "bearer" else None
        if self.query_param is not None:
            from urllib.parse import parse_qs

            found = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(self.query_param)
            return found[0] if found else None
        return None

    def _challenge(self, error: str | None = None) -> str:
        base = f'Bearer realm="{self.realm}"'
        return base if error is None else f'{base}, error="{error}"'

    def _claim_headers(self, identity: Identity) -> list[tuple[bytes, bytes]]:
        found = []
        for claim, header in self.forward_claims.items():
            value = identity.claims.get(claim)
            if value is None:
                continue
            text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            if text.isprintable() and text.isascii():
                found.append((header, text.encode("ascii")))
        return found


def _scopes(payload: Mapping[str, Any]) -> frozenset[str]:
    found = payload.get("scope", payload.get("scp", ""))
    if isinstance(found, str):
        return frozenset(found.split())
    if isinstance(found, list):
        return frozenset(str(item) for item in found)
    return frozenset()
