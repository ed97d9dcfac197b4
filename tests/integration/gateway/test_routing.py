"""Matching, rewriting, discovery and balancing, through real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from interlink.discovery import MemoryRegistry
from interlink.gateway import Route
from tests.integration.gateway._servers import echo_app, gateway_at, register, serve


@pytest.fixture
async def two_orders(registry: MemoryRegistry) -> AsyncIterator[None]:
    async with (
        serve(echo_app("o1")) as p1,
        serve(echo_app("o2")) as p2,
        serve(echo_app("u1")) as p3,
    ):
        await register(registry, "orders", "o1", p1)
        await register(registry, "orders", "o2", p2)
        await register(registry, "users", "u1", p3)
        yield


async def get(http: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any]:
    async with http.get(url, **kw) as response:
        return response.status, await response.json()


async def test_path_template_rewrite_and_query_reach_the_service(
    registry: MemoryRegistry, two_orders: None, http: aiohttp.ClientSession
) -> None:
    routes = [Route(path="/api/orders/{id}", service="orders", rewrite="/orders/{id}/detail")]
    async with gateway_at(routes, registry) as base:
        status, body = await get(http, f"{base}/api/orders/a%20b?x=1&y=2")
    assert status == 200
    assert body["path"] == "/orders/a b/detail"
    assert body["query"] == "x=1&y=2"


async def test_the_first_matching_route_wins_and_prefix_routes_take_the_rest(
    registry: MemoryRegistry, two_orders: None, http: aiohttp.ClientSession
) -> None:
    routes = [
        Route(path="/api/users/{rest:path}", service="users", rewrite="/{rest}"),
        Route(path="/api/{rest:path}", service="orders"),
    ]
    async with gateway_at(routes, registry) as base:
        _, users = await get(http, f"{base}/api/users/7/profile")
        _, orders = await get(http, f"{base}/api/other/thing")
    assert users["instance"] == "u1"
    assert users["path"] == "/7/profile"
    assert orders["instance"] in ("o1", "o2")
    assert orders["path"] == "/api/other/thing"


async def test_host_method_and_header_rules(
    registry: MemoryRegistry, two_orders: None, http: aiohttp.ClientSession
) -> None:
    routes = [
        Route(path="/x", service="users", host="*.example.com"),
        Route(path="/x", service="users", headers={"x-beta": "1"}),
        Route(path="/x", service="orders", methods=["GET"]),
    ]
    async with gateway_at(routes, registry) as base:
        _, by_host = await get(http, f"{base}/x", headers={"host": "api.example.com:80"})
        _, by_header = await get(http, f"{base}/x", headers={"x-beta": "1"})
        _, plain = await get(http, f"{base}/x", headers={"x-beta": "2"})
        async with http.post(f"{base}/x") as refused:
            assert refused.status == 405
            assert refused.headers["allow"] == "GET"
            assert (await refused.json())["error"]["type"] == "MethodNotAllowed"
        status, missing = await get(http, f"{base}/nothing/here")
    assert by_host["instance"] == "u1"
    assert by_header["instance"] == "u1"
    assert plain["instance"] in ("o1", "o2")
    assert status == 404
    assert missing["error"]["type"] == "NotFound"


async def test_requests_are_balanced_over_the_discovered_instances(
    registry: MemoryRegistry, two_orders: None, http: aiohttp.ClientSession
) -> None:
    async with gateway_at([Route(path="/{p:path}", service="orders")], registry) as base:
        seen = [(await get(http, f"{base}/a"))[1]["instance"] for _ in range(10)]
    assert seen.count("o1") == 5
    assert seen.count("o2") == 5


async def test_a_new_instance_is_found_through_the_registry_watch(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    from tests.conftest import eventually

    async with serve(echo_app("a")) as pa, serve(echo_app("b")) as pb:
        await register(registry, "svc", "a", pa)
        async with gateway_at([Route(path="/{p:path}", service="svc")], registry) as base:
            assert (await get(http, f"{base}/"))[1]["instance"] == "a"
            await register(registry, "svc", "b", pb)

            async def b_answers() -> bool:
                return (await get(http, f"{base}/"))[1]["instance"] == "b"

            await eventually(b_answers)
            await registry.deregister(await register(registry, "svc", "a", pa))

            async def only_b() -> bool:
                return all([(await get(http, f"{base}/"))[1]["instance"] == "b" for _ in range(4)])

            await eventually(only_b)


async def test_no_instance_is_503_in_the_error_shape(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    async with gateway_at([Route(path="/{p:path}", service="ghost")], registry) as base:
        status, body = await get(http, f"{base}/x")
    assert status == 503
    assert body["error"]["type"] == "ServiceUnavailable"


async def test_forwarding_headers_set_and_hop_by_hop_removed(
    registry: MemoryRegistry, two_orders: None, http: aiohttp.ClientSession
) -> None:
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    headers = {
        "x-forwarded-for": "10.0.0.1",
        "traceparent": tp,
        "x-custom": "kept",
        "keep-alive": "timeout=1",
        "connection": "keep-alive, x-drop-me",
        "x-drop-me": "1",
    }
    async with gateway_at([Route(path="/{p:path}", service="users")], registry) as base:
        async with http.get(f"{base}/h", headers=headers) as response:
            sent = (await response.json())["headers"]
            assert response.headers["x-upstream"] == "u1"
            assert "keep-alive" not in response.headers
        async with http.get(f"{base}/h") as response:
            fresh = (await response.json())["headers"]
    assert sent["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert sent["x-forwarded-proto"] == "http"
    assert sent["x-forwarded-host"].startswith("127.0.0.1:")
    assert sent["traceparent"] == tp
    assert sent["x-custom"] == "kept"
    assert "x-drop-me" not in sent
    assert "keep-alive" not in sent
    assert fresh["traceparent"].startswith("00-")
    assert fresh["traceparent"] != tp


class Tag:
    """A middleware that records the order it ran in, on a header."""

    def __init__(self, name: str) -> None:
        self.name = name.encode()
        self.wrapped = 0

    def wrap(self, app: ASGIApp) -> ASGIApp:
        self.wrapped += 1

        async def tagged(scope: Scope, receive: Receive, send: Send) -> None:
            old = dict(scope["headers"]).get(b"x-order", b"")
            headers = [h for h in scope["headers"] if h[0] != b"x-order"]
            headers.append((b"x-order", old + self.name))
            await app(dict(scope, headers=headers), receive, send)

        return tagged


async def test_middleware_runs_in_order_and_is_wrapped_once(
    registry: MemoryRegistry, two_orders: None, http: aiohttp.ClientSession
) -> None:
    first, second = Tag("1"), Tag("2")
    routes = [Route(path="/{p:path}", service="users", middleware=[first, second])]
    async with gateway_at(routes, registry) as base:
        for _ in range(3):
            _, body = await get(http, f"{base}/m")
            assert body["headers"]["x-order"] == "12"
    assert first.wrapped == second.wrapped == 1


async def test_a_mounted_app_gets_the_request_and_the_path_params(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = f"{scope['path']} {scope['path_params']['name']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async with gateway_at([Route(path="/hello/{name}", app=app)], registry) as base:
        text = await (await http.get(f"{base}/hello/w%C3%B6rld")).text()
    assert text == "/hello/wörld wörld"
