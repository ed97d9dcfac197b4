"""Aggregation: parallel parts, partial results, fallbacks, 502 only when all failed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from interlink.discovery import MemoryRegistry
from interlink.gateway import Aggregate, Part, Route
from tests.integration.gateway._servers import echo_app, gateway_at, register, serve


@pytest.fixture
async def services(registry: MemoryRegistry) -> AsyncIterator[dict[str, dict[str, int]]]:
    users, orders = echo_app("users"), echo_app("orders")
    async with serve(users) as pu, serve(orders) as po:
        await register(registry, "users", "users", pu)
        await register(registry, "orders", "orders", po)
        yield {"users": users.state.calls, "orders": orders.state.calls}


def home(**fallbacks: object) -> Route:
    parts = {
        "user": Part(service="users", path="/users/{uid}", **_fb(fallbacks, "user")),
        "orders": Part(service="orders", path="/orders?user={uid}", **_fb(fallbacks, "orders")),
    }
    return Route(path="/home/{uid}", aggregate=Aggregate(parts))


def _fb(fallbacks: dict[str, object], name: str) -> dict[str, object]:
    return {"fallback": fallbacks[name]} if name in fallbacks else {}


async def test_all_parts_merge_into_one_complete_answer(
    registry: MemoryRegistry, services: object, http: aiohttp.ClientSession
) -> None:
    async with gateway_at([home()], registry) as base, http.get(f"{base}/home/7") as response:
        assert response.status == 200
        assert response.headers["x-interlink-complete"] == "true"
        body = await response.json()
    assert body["data"]["user"]["path"] == "/users/7"
    assert body["data"]["orders"]["query"] == "user=7"
    assert body["parts"] == {
        "user": {"status": 200, "ok": True},
        "orders": {"status": 200, "ok": True},
    }


async def test_a_failed_part_gives_a_partial_answer_with_its_status(
    registry: MemoryRegistry, services: dict[str, dict[str, int]], http: aiohttp.ClientSession
) -> None:
    services["orders"]["fail"] = 1
    async with gateway_at([home()], registry) as base, http.get(f"{base}/home/7") as response:
        assert response.status == 200
        assert response.headers["x-interlink-complete"] == "false"
        body = await response.json()
    assert set(body["data"]) == {"user"}
    assert body["parts"]["orders"]["status"] == 503
    assert body["parts"]["orders"]["ok"] is False


async def test_a_failed_part_with_a_fallback_gives_the_fallback(
    registry: MemoryRegistry, services: dict[str, dict[str, int]], http: aiohttp.ClientSession
) -> None:
    services["orders"]["fail"] = 1
    async with gateway_at([home(orders=[])], registry) as base, http.get(f"{base}/home/7") as got:
        assert got.headers["x-interlink-complete"] == "false"
        body = await got.json()
    assert body["data"]["orders"] == []
    assert body["parts"]["orders"]["fallback"] is True


async def test_every_part_failed_is_502(
    registry: MemoryRegistry, services: dict[str, dict[str, int]], http: aiohttp.ClientSession
) -> None:
    services["orders"]["fail"] = services["users"]["fail"] = 1
    async with gateway_at([home()], registry) as base, http.get(f"{base}/home/7") as response:
        assert response.status == 502
        assert response.headers["x-interlink-complete"] == "false"
        body = await response.json()
    assert body["data"] == {}
    assert {p["status"] for p in body["parts"].values()} == {503}


async def test_a_missing_service_is_a_failed_part_not_a_failed_request(
    registry: MemoryRegistry, services: object, http: aiohttp.ClientSession
) -> None:
    parts = {
        "user": Part(service="users", path="/users/{uid}"),
        "recs": Part(service="recommendations", path="/for/{uid}", fallback={"items": []}),
    }
    route = Route(path="/home/{uid}", aggregate=Aggregate(parts))
    async with gateway_at([route], registry) as base, http.get(f"{base}/home/1") as response:
        assert response.status == 200
        body = await response.json()
    assert body["data"]["recs"] == {"items": []}
    assert body["parts"]["recs"]["status"] == 503
