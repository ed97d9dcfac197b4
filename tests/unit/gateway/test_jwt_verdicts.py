"""JwtAuth's verdict cache, on a fake clock, without sockets: a predicate claim check counts
how often a token is fully checked."""

from __future__ import annotations

import time
from typing import Any

from interlink.gateway import Jwks, JwtAuth
from interlink.testing import FakeClock
from tests.integration.gateway._edge_support import JwksServer, Signer, serving


async def test_a_checked_token_is_remembered_for_at_most_60_seconds_and_not_with_token_cache_0() -> (
    None
):
    signer, keys = Signer("k1"), JwksServer()
    keys.keys = [signer.jwk]
    checks: list[Any] = []

    def counted(value: Any) -> bool:
        checks.append(value)
        return True

    clock = FakeClock(wall=time.time())
    async with serving(keys) as base:
        options: dict[str, Any] = {
            "issuer": "https://issuer.test",
            "audience": "shop",
            "claims": {"sub": counted},
        }
        cached = JwtAuth(jwks=Jwks(f"{base}/jwks"), clock=clock, **options)
        uncached = JwtAuth(jwks=Jwks(f"{base}/jwks"), clock=clock, token_cache=0, **options)
        token = signer.token()
        scope = {"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]}
        async with cached, uncached:
            for _ in range(3):
                await cached.authenticate(scope)
            assert len(checks) == 1
            clock.advance(59)
            await cached.authenticate(scope)
            assert len(checks) == 1
            clock.advance(2)
            await cached.authenticate(scope)
            assert len(checks) == 2
            for _ in range(3):
                await uncached.authenticate(scope)
            assert len(checks) == 5
