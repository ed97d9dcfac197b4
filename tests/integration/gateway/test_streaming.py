"""Bodies pass through as they come, both ways: never gathered first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp

from interlink.discovery import MemoryRegistry
from interlink.gateway import Route
from tests.conftest import eventually
from tests.integration.gateway._servers import echo_app, gateway_at, register, serve


async def test_the_request_body_reaches_the_service_before_the_client_finished_sending(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    app = echo_app("s")
    state = app.state.calls
    first = b"a" * 100_000

    async def body() -> AsyncIterator[bytes]:
        yield first
        await eventually(lambda: state.get("received", 0) >= len(first))  # the service has it
        yield b"b" * 100_000

    async with serve(app) as port:
        await register(registry, "svc", "s", port)
        async with gateway_at([Route(path="/{p:path}", service="svc")], registry) as base:
            response = await http.post(f"{base}/upload", data=body())
            assert await response.json() == {"received": 200_000}


async def test_the_answer_reaches_the_client_while_the_service_is_still_writing_it(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    app = echo_app("s")
    async with serve(app) as port:
        await register(registry, "svc", "s", port)
        async with gateway_at([Route(path="/{p:path}", service="svc")], registry) as base:
            response = await http.get(f"{base}/drip")
            async with asyncio.timeout(5):
                got = await response.content.readexactly(6)
            assert got == b"first;"  # while the service waits for the test to release it
            app.state.calls["release"].set()
            assert await response.content.read() == b"second"


async def test_a_large_answer_streams_through_intact(
    registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    async with serve(echo_app("s")) as port:
        await register(registry, "svc", "s", port)
        async with gateway_at([Route(path="/{p:path}", service="svc")], registry) as base:
            total = 0
            async with http.get(f"{base}/big?size=20000000") as response:
                assert "content-length" not in response.headers  # chunked through
                async for piece in response.content.iter_chunked(65536):
                    total += len(piece)
            assert total == 20_000_000


async def test_a_client_that_stops_reading_holds_at_most_the_buffer_in_the_gateway(
    registry: MemoryRegistry,
) -> None:
    from interlink.gateway import Gateway

    gateway = Gateway([Route(path="/{p:path}", service="svc")], registry=registry)
    async with serve(echo_app("s")) as port, serve(gateway, lifespan="on") as gport:
        await register(registry, "svc", "s", port)
        reader, writer = await asyncio.open_connection("127.0.0.1", gport)
        writer.write(b"GET /big?size=100000000 HTTP/1.1\r\nhost: x\r\n\r\n")
        await reader.readexactly(1000)  # the answer started; now this client stops reading
        pool = gateway.upstream().pool

        def upstream_paused() -> bool:
            return any(c._reading_paused for c in pool._open)

        await eventually(upstream_paused)
        buffered = max(c._buffered for c in pool._open)
        assert buffered <= pool._buffer + 1024 * 1024  # the limit, plus what one read may bring
        writer.close()
