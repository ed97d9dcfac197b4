"""Methods at the edge of what the gateway docs state: HEAD through a projected route is
relayed (not projected), an aggregation's 405 lists GET and HEAD in ``Allow``, ``methods``
does not add HEAD for GET, a WebSocket handshake no route takes is refused, and an unknown
balancer name is refused when the Gateway is made, and a mirror copy is marked."""

from __future__ import annotations

import aiohttp
import pytest
import websockets
from starlette.types import Receive, Scope, Send

from interlink import ConfigurationError
from interlink.discovery import MemoryRegistry
from interlink.gateway import Aggregate, Bff, Gateway, Mirror, Part, Route
from tests.conftest import eventually
from tests.integration.gateway._servers import echo_app, gateway_at, register, serve


async def test_head_through_a_projected_route_is_relayed_not_projected(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    mobile = Bff(
        "mobile",
        routes=[Route(path="/orders/{id}", service="orders")],
        project={"id": "path", "client": "headers.x-interlink-client"},
    )
    async with serve(echo_app("a")) as port:
        await register(registry, "orders", "a", port)
        async with gateway_at([mobile], registry) as base:
            async with http.head(f"{base}/api/mobile/orders/5") as response:
                assert response.status == 200
                assert response.headers["x-upstream"] == "a"
                assert await response.read() == b""
            spoofed = {"x-interlink-client": "web"}  # replaced by the BFF's own name
            async with http.get(f"{base}/api/mobile/orders/5", headers=spoofed) as response:
                assert await response.json() == {"id": "/orders/5", "client": "mobile"}


async def test_an_aggregation_refuses_other_methods_with_allow_get_head(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    route = Route(path="/home", aggregate=Aggregate({"a": Part(service="orders", path="/a")}))
    async with serve(echo_app("a")) as port:
        await register(registry, "orders", "a", port)
        async with gateway_at([route], registry) as base:
            async with http.post(f"{base}/home") as response:
                assert response.status == 405
                assert response.headers["allow"] == "GET, HEAD"
                assert (await response.json())["error"]["type"] == "MethodNotAllowed"
            async with http.head(f"{base}/home") as response:
                assert response.status == 200
                assert response.headers["x-interlink-complete"] == "true"


async def test_get_does_not_take_head_and_an_unrouted_websocket_is_refused(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    async with gateway_at([Route(path="/a", methods=["GET"], service="orders")], registry) as base:
        async with http.head(f"{base}/a") as response:
            assert response.status == 405
            assert response.headers["allow"] == "GET"
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(base.replace("http", "ws", 1) + "/nowhere"):
                pass
    assert refused.value.response.status_code == 403


def test_an_unknown_balancer_name_is_refused_when_the_gateway_is_made() -> None:
    with pytest.raises(ConfigurationError, match="unknown load balancer 'bogus'"):
        Gateway([Route(path="/a", service="orders")], balancer="bogus")  # type: ignore[arg-type]
    assert Gateway([Route(path="/a", service="orders")], balancer="p2c").routes


async def test_a_route_without_a_policy_times_out_at_the_gateways_timeout(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    upstream = echo_app("a")
    async with serve(upstream) as port:
        await register(registry, "orders", "a", port)
        route = Route(path="/slow", service="orders")
        async with gateway_at([route], registry, timeout=0.3) as base:
            async with http.get(f"{base}/slow") as response:
                assert response.status == 504
                error = (await response.json())["error"]
            upstream.state.calls["release"].set()
    assert error["type"] == "GatewayTimeout"
    assert "within 0.3 s" in error["message"]


async def test_a_mirror_copy_carries_the_mirror_header_and_the_primary_does_not(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    primary, shadow = echo_app("primary"), echo_app("shadow")
    seen: list[dict[str, str]] = []

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await shadow(scope, receive, send)

    async with serve(primary) as p1, serve(recording) as p2:
        await register(registry, "orders", "primary", p1)
        await register(registry, "shadow", "shadow", p2)
        route = Route(path="/{p:path}", service="orders", mirror=Mirror(service="shadow"))
        async with gateway_at([route], registry) as base:
            async with http.get(f"{base}/o") as response:
                assert "x-interlink-mirror" not in (await response.json())["headers"]
            await eventually(lambda: len(seen) == 1)
    assert seen[0]["x-interlink-mirror"] == "1"
