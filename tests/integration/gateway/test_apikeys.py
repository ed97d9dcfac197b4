"""ApiKeys through real sockets."""

from __future__ import annotations

import aiohttp

from interlink.gateway import ApiKey, ApiKeys
from tests.integration.gateway._edge_support import Echo, serving


async def test_a_known_key_sets_the_identity_and_is_not_forwarded() -> None:
    keys = ApiKeys(
        {ApiKeys.digest("s3cret"): ApiKey(subject="mobile", scopes={"orders:read"})},
        query="api_key",
    )
    async with serving(keys.wrap(Echo())) as base, aiohttp.ClientSession() as session:
        headers = {"x-api-key": "s3cret", "x-interlink-subject": "root"}
        async with session.get(base, headers=headers) as response:
            by_header = await response.json()
        async with session.get(f"{base}/?api_key=s3cret") as response:
            by_query = await response.json()
    assert (by_header["subject"], by_header["method"]) == ("mobile", "api_key")
    assert by_header["headers"]["x-interlink-subject"] == ["mobile"]
    assert by_header["headers"]["x-interlink-scopes"] == ["orders:read"]
    assert "x-api-key" not in by_header["headers"]
    assert by_query["subject"] == "mobile"


async def test_a_missing_or_unknown_key_is_401_and_missing_scopes_403() -> None:
    keys = ApiKeys({"s3cret": "web"}, required_scopes={"admin"})
    plain = ApiKeys({"s3cret": "web"})
    async with aiohttp.ClientSession() as session:
        async with serving(plain.wrap(Echo())) as base:
            async with session.get(base) as response:
                missing = response.status, await response.json()
            async with session.get(base, headers={"x-api-key": "s3cret!"}) as response:
                wrong = response.status
        async with (
            serving(keys.wrap(Echo())) as base,
            session.get(base, headers={"x-api-key": "s3cret"}) as response,
        ):
            scoped = response.status
    assert missing == (
        401,
        {"error": {"type": "Unauthorized", "message": "a valid API key is required"}},
    )
    assert wrong == 401
    assert scoped == 403
