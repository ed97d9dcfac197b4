"""JwtAuth through real sockets: a uvicorn server in front of an echoing upstream, keys from a
JWKS server on another port."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
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
    [  # exp and nbf as seconds from when the test runs (not from when it was collected)
        ({"exp": -120}, "expired"),
        ({"nbf": 600}, "not yet valid"),
        ({"iss": "https://other.test"}, "issuer"),
        ({"aud": "billing"}, "audience"),
        ({"exp": None}, "exp"),
    ],
)
async def test_an_invalid_token_is_401_invalid_token(
    signer: Signer, claims: dict[str, Any], reason: str
) -> None:
    now = int(time.time())
    claims = {k: now + v if k in ("exp", "nbf") and v is not None else v for k, v in claims.items()}
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

            def failed_and_parked(n: int) -> Callable[[], bool]:
                # the refresher made n fetches and sleeps again: its fetch is over
                return lambda: jwks.fetches == n and clock.sleepers == 1

            await eventually(failed_and_parked(2))
            assert clock.next_deadline() == pytest.approx(clock.monotonic() + 1)
            status, _, _ = await get(session, f"{base}/x", signer.token(jti="a"))
            assert status == 200  # the refresh failed; the cached key is still valid
            for fetches, backoff in ((3, 2), (4, 4), (5, 4)):  # doubling up to retry_max
                clock.advance(clock.next_deadline() - clock.monotonic())
                await eventually(failed_and_parked(fetches))
                assert clock.next_deadline() == pytest.approx(clock.monotonic() + backoff)
            assert (await get(session, f"{base}/x", signer.token(jti="b")))[0] == 200
            keys.broken = False
            clock.advance(clock.next_deadline() - clock.monotonic())
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


async def test_a_websocket_takes_its_token_from_the_query_and_is_closed_without_one(
    signer: Signer,
) -> None:
    from starlette.types import Receive, Scope, Send

    from interlink.gateway._identity import identity_of

    async def hello(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        identity = identity_of(scope)
        await send({"type": "websocket.send", "text": identity.subject if identity else "?"})
        await send({"type": "websocket.close", "code": 1000})

    keys = JwksServer()
    keys.keys = [signer.jwk]
    async with serving(keys) as jwks_base:
        auth = JwtAuth(
            jwks_url=f"{jwks_base}/jwks",
            issuer=ISSUER,
            audience=AUDIENCE,
            query_param="access_token",
        )
        async with auth, serving(auth.wrap(hello)) as base, aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{base}/ws")
            async with session.ws_connect(f"{base}/ws?access_token={signer.token()}") as ws:
                greeting = await ws.receive_str()
    assert refused.value.status == 403
    assert greeting == "ada"


async def test_rs256_keys_work_and_audience_none_skips_the_audience_check() -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": "r1"}
    keys = JwksServer()
    keys.keys = [jwk]
    claims = {"sub": "bob", "iss": ISSUER, "aud": "anything", "exp": int(time.time()) + 60}
    token = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "r1"})
    async with serving(keys) as jwks_base:
        auth = JwtAuth(jwks_url=f"{jwks_base}/jwks", issuer=ISSUER, audience=None)
        only_es = JwtAuth(
            jwks_url=f"{jwks_base}/jwks", issuer=ISSUER, audience=None, algorithms=["ES256"]
        )
        async with auth, only_es, aiohttp.ClientSession() as session:
            async with serving(auth.wrap(Echo())) as base:
                status, body, _ = await get(session, f"{base}/x", token)
            async with serving(only_es.wrap(Echo())) as base:
                refused, _, _ = await get(session, f"{base}/x", token)
    assert (status, body["subject"]) == (200, "bob")
    assert refused == 401


async def test_any_of_takes_an_api_key_or_a_bearer_token_and_strips_both_kinds_of_headers(
    signer: Signer,
) -> None:
    from interlink.gateway import AnyOf, ApiKeys

    keys = JwksServer()
    keys.keys = [signer.jwk]
    async with serving(keys) as jwks_base:
        jwks = Jwks(f"{jwks_base}/jwks")
        jwt_auth = JwtAuth(
            jwks=jwks, issuer=ISSUER, audience=AUDIENCE, forward_claims={"tenant": "x-tenant"}
        )
        either = AnyOf(ApiKeys({"k1": "batch-job"}), jwt_auth)
        async with either, serving(either.wrap(Echo())) as base, aiohttp.ClientSession() as session:
            assert jwks.fetches == 1  # entering AnyOf entered the JwtAuth
            by_key = await get(session, f"{base}/x", **{"x-api-key": "k1", "x-tenant": "evil"})
            by_token = await get(session, f"{base}/x", signer.token(tenant="acme"))
            neither = await get(session, f"{base}/x")
            bad_token = await get(session, f"{base}/x", "not.a.token")
        assert jwks.fetches == 1
    assert (by_key[0], by_key[1]["subject"], by_key[1]["method"]) == (200, "batch-job", "api_key")
    assert "x-tenant" not in by_key[1]["headers"]
    assert (by_token[0], by_token[1]["subject"], by_token[1]["method"]) == (200, "ada", "jwt")
    assert by_token[1]["headers"]["x-tenant"] == ["acme"]
    assert (neither[0], neither[1]["error"]["message"]) == (401, "a valid API key is required")
    assert bad_token[0] == 401
    assert 'error="invalid_token"' in bad_token[2]["WWW-Authenticate"]


async def test_a_token_without_kid_is_accepted_only_when_the_set_has_one_key(
    signer: Signer, other: Signer
) -> None:
    import jwt as pyjwt

    claims = {"sub": "ada", "iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60}
    token = pyjwt.encode(claims, signer.private, algorithm="ES256")
    statuses = []
    for published in ([signer.jwk], [signer.jwk, other.jwk]):
        keys = JwksServer()
        keys.keys = published
        async with edge(keys) as (base, session):
            statuses.append((await get(session, f"{base}/x", token))[0])
    assert statuses == [200, 401]
