"""The edge policies on a real Gateway route: JWT, a subject rate limit and the cache in front
of services reached through discovery."""

from __future__ import annotations

import aiohttp

from interlink.discovery import MemoryRegistry
from interlink.gateway import Cache, Jwks, JwtAuth, RateLimit, Route
from tests.integration.gateway._edge_support import JwksServer, Signer, serving
from tests.integration.gateway._servers import echo_app, gateway_at, register, serve
from tests.integration.gateway.test_cache import Origin


async def test_jwt_rate_limit_and_cache_in_order_on_gateway_routes(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    signer, keys, origin = Signer("k1"), JwksServer(), Origin()
    keys.keys = [signer.jwk]
    async with serving(keys) as jwks_base, serve(echo_app("o1")) as p1, serve(origin) as p2:
        await register(registry, "orders", "o1", p1)
        await register(registry, "catalog", "c1", p2)
        jwks = Jwks(f"{jwks_base}/jwks")

        def auth() -> JwtAuth:
            return JwtAuth(
                jwks=jwks,
                issuer="https://issuer.test",
                audience="shop",
                forward_claims={"tenant": "x-tenant"},
            )

        routes = [
            Route(
                path="/api/orders/{rest:path}",
                service="orders",
                middleware=[auth(), RateLimit(2, 60, key="subject")],
            ),
            Route(path="/api/catalog/{rest:path}", service="catalog", middleware=[auth(), Cache()]),
        ]
        async with gateway_at(routes, registry) as base:
            assert jwks.fetches == 1  # the gateway entered the middleware at startup
            bearer = {"Authorization": f"Bearer {signer.token(tenant='acme')}"}
            async with http.get(f"{base}/api/orders/1") as response:
                assert response.status == 401
            statuses, echoed = [], None
            for _ in range(3):
                async with http.get(f"{base}/api/orders/1", headers=bearer) as response:
                    statuses.append((response.status, response.headers.get("RateLimit-Remaining")))
                    if response.status == 200:
                        echoed = await response.json()
            url = f"{base}/api/catalog/pear?cc=public, max-age=60"
            cached = []
            for _ in range(2):
                async with http.get(url, headers=bearer) as response:
                    cached.append(
                        (response.status, response.headers["X-Cache"], await response.read())
                    )
    assert statuses == [(200, "1"), (200, "0"), (429, "0")]
    assert echoed is not None
    assert echoed["headers"]["x-interlink-subject"] == "ada"
    assert echoed["headers"]["x-tenant"] == "acme"
    assert [c[:2] for c in cached] == [(200, "MISS"), (200, "HIT")]
    assert cached[0][2] == cached[1][2]
    assert origin.calls == 1
