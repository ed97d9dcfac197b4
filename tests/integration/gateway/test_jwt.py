"""JwtAuth through real sockets: a uvicorn server in front of an echoing upstream, keys from a
JWKS server on another port."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from interlink.gateway import Jwks, JwtAuth
from interlink.testing import FakeClock
from tests.conftest import eventually
from tests.integration.gateway._edge_support import Echo, JwksServer, Signer, serving

ISSUER, AUDIENCE = "https://issuer.test", "shop"


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer("k1")


@pytest.fixture(scope="module")
def other() -> Signer:
    return Signer("k2")


@contextlib.asynccontextmanager
async def edge(
    keys: JwksServer, **options: Any
) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    """JWKS server + JwtAuth-guarded echo; yields the guarded base URL and a client session."""
    async with serving(keys) as jwks_base:
        jwks = options.pop("jwks", None) or Jwks(
            f"{jwks_base}/jwks", **options.pop("jwks_options", {})
        )
        auth = JwtAuth(jwks=jwks, issuer=ISSUER, audience=AUDIENCE, **options)
        async with auth, serving(auth.wrap(Echo())) as base, aiohttp.ClientSession() as session:
            yield base, session


async def get(
    session: aiohttp.ClientSession, url: str, token: str | None = None, **headers: str
) -> tuple[int, Any, Any]:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with session.get(url, headers=headers) as response:
        return response.status, await response.json(), response.headers


async def test_a_valid_token_reaches_the_upstream_with_its_identity_and_forwarded_claims(
    signer: Signer,
) -> None:
    keys = JwksServer()
    keys.keys = [signer.jwk]
    async with edge(keys, forward_claims={"tenant": "x-tenant"}) as (base, session):
        token = signer.token(scope="orders:read orders:write", tenant="acme")
        spoofed = {"x-interlink-subject": "root", "x-interlink-scopes": "admin", "x-tenant": "evil"}
        status, body, _ = await get(session, f"{base}/orders", token, **spoofed)
    assert status == 200
    assert (body["subject"], body["method"]) == ("ada", "jwt")
    assert body["headers"]["x-interlink-subject"] == ["ada"]
    assert body["headers"]["x-interlink-scopes"] == ["orders:read orders:write"]
    assert body["headers"]["x-tenant"] == ["acme"]


async def test_a_request_without_a_token_is_401_with_a_bearer_challenge(signer: Signer) -> None:
    keys = JwksServer()
    keys.keys = [signer.jwk]
    async with edge(keys) as (base, session):
        status, body, headers = await get(session, f"{base}/orders")
        basic = await get(session, f"{base}/orders", Authorization="Basic YWRhOnB3")
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="interlink"'
    assert body["error"]["type"] == "Unauthorized"
    assert basic[0] == 401


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not yet valid"),
        ({"iss": "https://other.test"}, "issuer"),
        ({"aud": "billing"}, "audience"),
        ({"exp": None}, "exp"),
    ],
)
async def test_an_invalid_token_is_401_invalid_token(
    signer: Signer, claims: dict[str, Any], reason: str
) -> None:
    keys = JwksServer()
    keys.keys = [signer.jwk]
    async with edge(keys) as (base, session):
        status, body, headers = await get(session, f"{base}/x", signer.token(**claims))
    assert status == 401, reason
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    assert body["error"]["type"] == "Unauthorized"


async def test_leeway_accepts_a_token_that_expired_within_it(signer: Signer) -> None:
    keys = JwksServer()
    keys.keys = [signer.jwk]
    async with edge(keys, leeway=300) as (base, session):
        status, _, _ = await get(session, f"{base}/x", signer.token(exp=int(time.time()) - 60))
    assert status == 200


async def test_a_token_signed_by_an_unpublished_key_or_tampered_is_401(
    signer: Signer, other: Signer
) -> None:
    keys = JwksServer()
    keys.keys = [signer.jwk]
    async with edge(keys, jwks_options={"unknown_kid_interval": 0}) as (base, session):
        forged = other.token()
        head, payload, _ = signer.token().split(".")
        swapped = ".".join((head, payload, forged.split(".")[2]))
        assert (await get(session, f"{base}/x", forged))[0] == 401
        assert (await get(session, f"{base}/x", swapped))[0] == 401


async def test_missing_scopes_are_403_insufficient_scope(signer: Signer) -> None:
    keys = JwksServer()
    keys.keys = [signer.jwk]
    async with edge(keys, required_scopes={"orders:write"}) as (base, session):
        status, body, headers = await get(session, f"{base}/x", signer.token(scope="orders:read"))
        granted = await get(session, f"{base}/x", signer.token(scp=["orders:write"]))
    assert status == 403
    assert 'error="insufficient_scope"' in headers["WWW-Authenticate"]
    assert 'scope="orders:write"' in headers["WWW-Authenticate"]
    assert body["error"]["type"] == "Forbidden"
    assert granted[0] == 200


async def test_claim_checks_take_values_and_predicates(signer: Signer) -> None:
    keys = JwksServer()
    keys.keys = [signer.jwk]
    checks = {"tenant": "acme", "level": lambda v: isinstance(v, int) and v >= 3}
    async with edge(keys, claims=checks) as (base, session):
        ok = await get(session, f"{base}/x", signer.token(tenant="acme", level=5))
        wrong_tenant = await get(session, f"{base}/x", signer.token(tenant="evil", level=5))
        low_level = await get(session, f"{base}/x", signer.token(tenant="acme", level=1))
    assert [ok[0], wrong_tenant[0], low_level[0]] == [200, 403, 403]


async def test_an_unknown_kid_refetches_the_set_once_so_rotated_keys_work(
    signer: Signer, other: Signer
) -> None:
    keys = JwksServer()
    keys.keys = [signer.jwk]
    async with edge(keys, jwks_options={"unknown_kid_interval": 3600}) as (base, session):
        assert (await get(session, f"{base}/x", signer.token()))[0] == 200
        before = keys.requests
        keys.keys = [signer.jwk, other.jwk]  # the issuer rotates: k2 is published
        assert (await get(session, f"{base}/x", other.token()))[0] == 200
        assert keys.requests == before + 1
        stranger = Signer("k3")  # never published: one refetch per interval at most
        assert (await get(session, f"{base}/x", stranger.token()))[0] == 401
        assert (await get(session, f"{base}/x", stranger.token(jti="2")))[0] == 401
        assert keys.requests == before + 1


async def test_a_failed_refresh_keeps_the_cached_keys_and_retries_in_the_background(
    signer: Signer,
) -> None:
    keys = JwksServer()
    keys.keys = [signer.jwk]
    keys.max_age = 100
    clock = FakeClock()
    async with serving(keys) as jwks_base:
        jwks = Jwks(f"{jwks_base}/jwks", clock=clock, retry_initial=1, retry_max=4)
        async with edge(keys, jwks=jwks) as (base, session):
            assert jwks.fetches == 1
            keys.broken = True
            clock.advance(81)  # past the refresh point (80 % of max-age=100)
            await eventually(lambda: jwks.fetches >= 2)
            status, _, _ = await get(session, f"{base}/x", signer.token(jti="a"))
            assert status == 200  # the refresh failed; the cached key is still valid
            for _ in range(3):  # backoff: 1 s, 2 s, 4 s later, each one retried
                attempts = jwks.fetches
                clock.advance(4)
                await eventually(lambda a=attempts: jwks.fetches > a)
            assert (await get(session, f"{base}/x", signer.token(jti="b")))[0] == 200
            keys.broken = False
            clock.advance(4)
            await eventually(lambda: jwks.generation == 2)
            assert jwks.valid()


async def test_keys_expired_and_unreachable_is_503_until_the_server_is_back(signer: Signer) -> None:
    keys = JwksServer()
    keys.keys = [signer.jwk]
    keys.max_age = 100
    clock = FakeClock()
    async with serving(keys) as jwks_base:
        jwks = Jwks(f"{jwks_base}/jwks", clock=clock)
        async with edge(keys, jwks=jwks) as (base, session):
            token = signer.token()
            assert (await get(session, f"{base}/x", token))[0] == 200
            keys.broken = True
            clock.advance(101)  # the set expired, every refresh failed
            status, body, headers = await get(session, f"{base}/x", token)
            assert status == 503  # the cached verdict is not used past the set's lifetime
            assert body["error"]["type"] == "ServiceUnavailable"
            assert headers["Retry-After"] == "5"
            keys.broken = False
            assert (await get(session, f"{base}/x", token))[0] == 200


async def test_a_key_server_down_at_startup_is_503_then_recovers_in_the_background(
    signer: Signer,
) -> None:
    keys = JwksServer()
    keys.keys = [signer.jwk]
    keys.broken = True
    async with edge(keys, jwks_options={"retry_initial": 0.02, "retry_max": 0.05}) as (
        base,
        session,
    ):
        assert (await get(session, f"{base}/x", signer.token()))[0] == 503
        keys.broken = False
        await eventually(lambda: keys.requests >= 3)

        async def accepted() -> bool:
            return (await get(session, f"{base}/x", signer.token()))[0] == 200

        await eventually(accepted)
