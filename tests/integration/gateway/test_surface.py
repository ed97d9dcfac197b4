"""The rest of the routing surface: route validation, HEAD, WebSocket refusals, and a gateway
opened by its first request."""

from __future__ import annotations

import aiohttp
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from interlink.discovery import MemoryRegistry
from interlink.gateway import Aggregate, Gateway, Part, Route
from tests.integration.gateway._servers import echo_app, register, serve


def test_a_route_needs_exactly_one_target_and_a_rewrite_of_captured_names() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Route(path="/x", service="a", app=echo_app("x"))
    with pytest.raises(ValueError, match="exactly one"):
        Route(path="/x")
    with pytest.raises(ValueError, match="does not capture"):
        Route(path="/x/{id}", service="a", rewrite="/y/{other}")
    with pytest.raises(ValueError, match="does not capture"):
        Gateway([Route(path="/x", aggregate=Aggregate({"p": Part(service="a", path="/{id}")}))])


async def test_head_answers_the_head_and_the_next_request_still_works(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    async with serve(echo_app("s")) as port:
        await register(registry, "svc", "s", port)
        gateway = Gateway([Route(path="/{p:path}", service="svc")], registry=registry)
        async with serve(gateway, lifespan="on") as gport:
            base = f"http://127.0.0.1:{gport}"
            async with http.head(f"{base}/h") as response:
                assert response.status == 200
                assert response.headers["x-upstream"] == "s"
                assert await response.read() == b""
            async with http.get(f"{base}/h") as response:
                assert (await response.json())["method"] == "GET"


async def test_websocket_requests_without_a_mounted_app_are_refused(
    registry: MemoryRegistry,
) -> None:
    gateway = Gateway([Route(path="/svc", service="svc")], registry=registry)
    async with serve(gateway, lifespan="on") as gport:
        for path in ("/nowhere", "/svc"):
            with pytest.raises(InvalidStatus):
                async with websockets.connect(f"ws://127.0.0.1:{gport}{path}"):
                    pass


async def test_a_gateway_without_lifespan_opens_on_its_first_request(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    async with serve(echo_app("s")) as port:
        await register(registry, "svc", "s", port)
        gateway = Gateway([Route(path="/{p:path}", service="svc")], registry=registry)
        try:
            async with serve(gateway, lifespan="off") as gport:
                response = await http.get(f"http://127.0.0.1:{gport}/x")
                assert response.status == 200
                response.release()
        finally:
            await gateway.close()
