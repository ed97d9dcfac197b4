"""RateLimit in one process, through real sockets: headers, 429s, keys."""

from __future__ import annotations

import aiohttp
import pytest

from interlink.gateway import ApiKey, ApiKeys, RateLimit
from tests.integration.gateway._edge_support import Echo, serving


async def test_the_limit_answers_429_with_retry_after_and_ratelimit_fields() -> None:
    limit = RateLimit(3, 60)
    seen = []
    async with serving(limit.wrap(Echo())) as base, aiohttp.ClientSession() as session:
        for _ in range(4):
            async with session.get(base) as response:
                seen.append((response.status, response.headers.copy(), await response.json()))
    assert [s for s, _, _ in seen] == [200, 200, 200, 429]
    assert [h["RateLimit-Remaining"] for _, h, _ in seen] == ["2", "1", "0", "0"]
    assert all(h["RateLimit-Limit"] == "3" for _, h, _ in seen)
    assert all(h["RateLimit-Policy"] == "3;w=60" for _, h, _ in seen)
    assert all(1 <= int(h["RateLimit-Reset"]) <= 60 for _, h, _ in seen)
    _, headers, body = seen[3]
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert body == {"error": {"type": "TooManyRequests", "message": "rate limit exceeded"}}


async def test_a_subject_key_gives_each_consumer_its_own_quota() -> None:
    keys = ApiKeys({"key-a": "alice", ApiKeys.digest("key-b"): ApiKey(subject="bob")})
    limit = RateLimit(2, 60, key="subject")
    app = keys.wrap(limit.wrap(Echo()))
    async with serving(app) as base, aiohttp.ClientSession() as session:

        async def status(key: str) -> int:
            async with session.get(base, headers={"x-api-key": key}) as response:
                return response.status

        alice = [await status("key-a") for _ in range(3)]
        bob = [await status("key-b") for _ in range(3)]
    assert alice == [200, 200, 429]
    assert bob == [200, 200, 429]


@pytest.mark.parametrize("spec", ["claim:tenant", lambda scope: scope["path"]])
async def test_claim_and_function_keys(spec: object) -> None:
    keys = ApiKeys(
        {
            "k1": ApiKey(subject="a", claims={"tenant": "acme"}),
            "k2": ApiKey(subject="b", claims={"tenant": "acme"}),
        }
    )
    limit = RateLimit(1, 60, key=spec)  # type: ignore[arg-type]
    async with serving(keys.wrap(limit.wrap(Echo()))) as base, aiohttp.ClientSession() as session:
        statuses = []
        for key, path in (("k1", "/x"), ("k2", "/x"), ("k1", "/y")):
            async with session.get(base + path, headers={"x-api-key": key}) as response:
                statuses.append(response.status)
    # claim:tenant - both keys share acme's quota; path - /x is shared, /y has its own
    expected = [200, 429, 429] if spec == "claim:tenant" else [200, 429, 200]
    assert statuses == expected


async def test_a_key_function_returning_none_leaves_the_request_uncounted() -> None:
    limit = RateLimit(1, 60, key=lambda scope: None)
    async with serving(limit.wrap(Echo())) as base, aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.get(base) as response:
                assert response.status == 200
                assert "RateLimit-Limit" not in response.headers
