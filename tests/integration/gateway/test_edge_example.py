"""The runnable example of docs/gateway.md, served by uvicorn."""

from __future__ import annotations

import aiohttp

from tests.integration.gateway._edge_support import serving


async def test_the_docs_example_authenticates_limits_and_caches() -> None:
    from examples.gateway_edge import app

    async with serving(app) as base, aiohttp.ClientSession() as session:
        async with session.get(f"{base}/stock") as response:
            assert response.status == 401
        answers = []
        for _ in range(2):
            async with session.get(f"{base}/stock", headers={"x-api-key": "s3cret"}) as response:
                answers.append((response.status, response.headers.copy(), await response.json()))
    assert [a[0] for a in answers] == [200, 200]
    assert answers[0][2] == {"for": "mobile", "pears": 3}
    assert [a[1]["X-Cache"] for a in answers] == ["MISS", "HIT"]
    assert answers[0][1]["RateLimit-Limit"] == "10"
