"""BFF route sets with projection, version routing by header and weight, mirroring."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from interlink.discovery import MemoryRegistry
from interlink.gateway import Bff, Mirror, Route, Versions
from tests.conftest import eventually
from tests.integration.gateway._servers import echo_app, gateway_at, register, serve


@pytest.fixture
async def versions(registry: MemoryRegistry) -> AsyncIterator[None]:
    async with serve(echo_app("a", "v1")) as p1, serve(echo_app("b", "v2")) as p2:
        await register(registry, "orders", "a", p1, version="v1")
        await register(registry, "orders", "b", p2, version="v2")
        yield


async def instance(http: aiohttp.ClientSession, url: str, **headers: str) -> str:
    async with http.get(url, headers=headers) as response:
        assert response.status == 200, await response.text()
        name: str = (await response.json())["instance"]
        return name


async def test_a_version_header_picks_only_that_versions_instances(
    registry: MemoryRegistry, versions: None, http: aiohttp.ClientSession
) -> None:
    route = Route(path="/{p:path}", service="orders", versions=Versions(header="version"))
    async with gateway_at([route], registry) as base:
        assert {await instance(http, f"{base}/", version="v2") for _ in range(6)} == {"b"}
        assert {await instance(http, f"{base}/", version="v1") for _ in range(6)} == {"a"}
        assert {await instance(http, f"{base}/") for _ in range(6)} == {"a", "b"}
        async with http.get(f"{base}/", headers={"version": "v9"}) as response:
            assert response.status == 503


async def test_weights_share_requests_exactly_per_cycle(
    registry: MemoryRegistry, versions: None, http: aiohttp.ClientSession
) -> None:
    canary = Versions(header="version", weights={"v1": 3, "v2": 1})
    route = Route(path="/{p:path}", service="orders", versions=canary)
    async with gateway_at([route], registry) as base:
        seen = [await instance(http, f"{base}/") for _ in range(12)]
        assert seen.count("a") == 9
        assert seen.count("b") == 3
        assert await instance(http, f"{base}/", version="v2") == "b"  # the header still wins


async def test_a_bff_serves_its_routes_under_its_prefix_with_projection(
    registry: MemoryRegistry, versions: None, http: aiohttp.ClientSession
) -> None:
    mobile = Bff(
        "mobile",
        routes=[Route(path="/orders/{id}", service="orders", versions=Versions(header="version"))],
        project={"who": "instance", "where": "path", "client": "headers.x-interlink-client"},
    )
    web = Bff("web", routes=[Route(path="/orders/{id}", service="orders")])
    async with gateway_at([mobile, web], registry) as base:
        async with http.get(f"{base}/api/mobile/orders/5", headers={"version": "v1"}) as response:
            assert await response.json() == {"who": "a", "where": "/orders/5", "client": "mobile"}
        async with http.get(f"{base}/api/web/orders/5") as response:
            full = await response.json()
    assert full["path"] == "/orders/5"
    assert full["headers"]["x-interlink-client"] == "web"
    assert "instance" in full
    assert "method" in full


async def test_mirroring_sends_a_copy_and_the_client_gets_the_primary_answer(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    primary, shadow = echo_app("primary"), echo_app("shadow")
    shadow.state.calls["fail"] = 1000  # the copy's failure must not matter
    async with serve(primary) as p1, serve(shadow) as p2:
        await register(registry, "orders", "primary", p1)
        await register(registry, "shadow", "shadow", p2)
        route = Route(path="/{p:path}", service="orders", mirror=Mirror(service="shadow"))
        async with gateway_at([route], registry) as base:
            for i in range(3):
                async with http.post(f"{base}/o", data=b"copy%d" % i) as response:
                    assert (await response.json())["instance"] == "primary"
            await eventually(lambda: shadow.state.calls["calls"] == 3)
    assert sorted(shadow.state.calls["bodies"]) == [b"copy0", b"copy1", b"copy2"]
    assert primary.state.calls["calls"] == 3


async def test_mirroring_to_a_missing_service_changes_nothing(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    async with serve(echo_app("primary")) as p1:
        await register(registry, "orders", "primary", p1)
        route = Route(path="/{p:path}", service="orders", mirror=Mirror(service="nowhere"))
        async with gateway_at([route], registry) as base, http.get(f"{base}/o") as response:
            assert response.status == 200
