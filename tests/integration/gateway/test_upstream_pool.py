"""The gateway's connections to its upstream, through real sockets: kept alive and reused, at
most ``max_connections`` exchanges at once (the others wait, then go through), and a fresh
``traceparent`` valid and new for each request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route as StarletteRoute

from interlink._tracecontext import parse_traceparent
from interlink.discovery import MemoryRegistry
from interlink.gateway import Gateway, Route
from interlink.resilience import Policy
from tests.conftest import eventually
from tests.integration.gateway._servers import gateway_at, register, serve


class Upstream:
    """A service that records the client port of each request, how many it holds at once, and
    the traceparent it was sent; ``/hold`` waits until ``release`` is set."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        self.traces: list[str] = []
        self.in_flight = 0
        self.most = 0
        self.release = asyncio.Event()

    def app(self) -> Starlette:
        async def answer(request: Request) -> JSONResponse:
            assert request.client is not None
            self.ports.append(request.client.port)
            self.traces.append(request.headers.get("traceparent", ""))
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            try:
                if request.url.path == "/hold":
                    async with asyncio.timeout(10):
                        await self.release.wait()
            finally:
                self.in_flight -= 1
            return JSONResponse({"ok": True})

        return Starlette(routes=[StarletteRoute("/{rest:path}", answer)])


@pytest.fixture
async def upstream(registry: MemoryRegistry) -> AsyncIterator[Upstream]:
    service = Upstream()
    async with serve(service.app()) as port:
        await register(registry, "svc", "u1", port)
        yield service


async def get(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as response:
        await response.read()
        return response.status


async def test_sequential_requests_reuse_one_upstream_connection(
    registry: MemoryRegistry, upstream: Upstream, http: aiohttp.ClientSession
) -> None:
    async with gateway_at([Route(path="/{p:path}", service="svc")], registry) as base:
        statuses = [await get(http, f"{base}/x/{n}") for n in range(10)]
    assert statuses == [200] * 10
    assert len(set(upstream.ports)) == 1


@contextlib.asynccontextmanager
async def gateway(
    routes: list[Route], registry: MemoryRegistry, **options: Any
) -> AsyncIterator[tuple[str, Gateway]]:
    edge = Gateway(routes, registry=registry, **options)
    async with serve(edge, lifespan="on") as port:
        yield f"http://127.0.0.1:{port}", edge


async def test_at_most_max_connections_exchanges_at_once_and_the_rest_wait_then_pass(
    registry: MemoryRegistry, upstream: Upstream, http: aiohttp.ClientSession
) -> None:
    route = Route(path="/{p:path}", service="svc")
    async with gateway([route], registry, max_connections=2) as (base, edge):
        slots = edge.upstream().pool.slots
        calls = [asyncio.create_task(get(http, f"{base}/hold")) for _ in range(5)]
        await eventually(lambda: upstream.in_flight + slots.waiting == 5)
        assert (upstream.in_flight, slots.waiting) == (2, 3)
        upstream.release.set()
        statuses = await asyncio.gather(*calls)
        assert slots.free == 2
    assert statuses == [200] * 5
    assert upstream.most == 2
    assert len(upstream.ports) == 5


async def test_a_waiter_that_times_out_gives_504_and_takes_no_slot_with_it(
    registry: MemoryRegistry, upstream: Upstream, http: aiohttp.ClientSession
) -> None:
    routes = [
        Route(path="/hold", service="svc"),
        Route(path="/{p:path}", service="svc", policy=Policy(timeout=0.2)),
    ]
    async with gateway(routes, registry, max_connections=1) as (base, edge):
        slots = edge.upstream().pool.slots
        holder = asyncio.create_task(get(http, f"{base}/hold"))
        await eventually(lambda: upstream.in_flight == 1)
        assert [await get(http, f"{base}/x/{n}") for n in range(3)] == [504] * 3
        assert (slots.waiting, slots.free) == (0, 0)
        upstream.release.set()
        assert await holder == 200
        assert [await get(http, f"{base}/after/{n}") for n in range(3)] == [200] * 3
        assert slots.free == 1
    assert upstream.most == 1


async def test_each_request_without_a_valid_traceparent_gets_a_new_valid_sampled_one(
    registry: MemoryRegistry, upstream: Upstream, http: aiohttp.ClientSession
) -> None:
    async with gateway_at([Route(path="/{p:path}", service="svc")], registry) as base:
        for n in range(5):
            headers: dict[str, Any] = {"traceparent": "00-zz-not-valid"} if n % 2 else {}
            async with http.get(f"{base}/t", headers=headers) as response:
                assert response.status == 200
    parsed = [parse_traceparent(trace) for trace in upstream.traces]
    assert all(p is not None and p[2] for p in parsed), upstream.traces
    assert len({p[0] for p in parsed if p is not None}) == 5
    assert len({p[1] for p in parsed if p is not None}) == 5
