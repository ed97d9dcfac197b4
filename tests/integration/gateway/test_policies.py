"""Per-route policies: retry only when safe, the breaker, the timeout, failover, body limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from interlink._errors import CallError
from interlink.discovery import MemoryRegistry
from interlink.gateway import Route
from interlink.resilience import Backoff, CircuitBreaker, CountWindow, Policy, Retry
from tests.conftest import free_port
from tests.integration.gateway._servers import echo_app, gateway_at, register, serve

NOW = Backoff.constant(0)


@pytest.fixture
async def calls(registry: MemoryRegistry) -> AsyncIterator[dict[str, object]]:
    app = echo_app("s1")
    async with serve(app) as port:
        await register(registry, "svc", "s1", port)
        yield app.state.calls


def retrying(attempts: int = 3) -> Policy:
    return Policy(retry=Retry(attempts=attempts, on=CallError, backoff=NOW))


async def test_a_get_answered_503_is_retried_until_it_succeeds(
    registry: MemoryRegistry, calls: dict[str, int], http: aiohttp.ClientSession
) -> None:
    calls["fail"] = 2
    async with (
        gateway_at([Route(path="/{p:path}", service="svc", policy=retrying())], registry) as base,
        http.get(f"{base}/x") as response,
    ):
        assert response.status == 200
    assert calls["calls"] == 3


async def test_a_post_answered_503_is_not_retried_and_the_answer_is_relayed(
    registry: MemoryRegistry, calls: dict[str, int], http: aiohttp.ClientSession
) -> None:
    calls["fail"] = 2
    async with (
        gateway_at([Route(path="/{p:path}", service="svc", policy=retrying())], registry) as base,
        http.post(f"{base}/x", data=b"pay") as response,
    ):
        assert response.status == 503
        assert await response.json() == {"failed": "s1"}
    assert calls["calls"] == 1


async def test_when_retries_run_out_the_last_upstream_answer_is_relayed(
    registry: MemoryRegistry, calls: dict[str, int], http: aiohttp.ClientSession
) -> None:
    calls["fail"] = 5
    async with (
        gateway_at([Route(path="/{p:path}", service="svc", policy=retrying(2))], registry) as base,
        http.get(f"{base}/x") as response,
    ):
        assert response.status == 503
        assert await response.json() == {"failed": "s1"}
    assert calls["calls"] == 2


async def test_a_refused_connection_fails_over_to_another_instance_even_for_a_post(
    registry: MemoryRegistry, calls: dict[str, int], http: aiohttp.ClientSession
) -> None:
    await register(registry, "svc", "s0-dead", free_port())
    async with gateway_at([Route(path="/{p:path}", service="svc")], registry) as base:
        for _ in range(4):
            async with http.post(f"{base}/x", data=b"once") as response:
                assert response.status == 200
    assert calls["calls"] == 4
    assert calls["bodies"] == [b"once"] * 4


async def test_an_open_breaker_answers_503_without_calling_the_service(
    registry: MemoryRegistry, calls: dict[str, int], http: aiohttp.ClientSession
) -> None:
    calls["fail"] = 1000
    breaker = CircuitBreaker(window=CountWindow(4), minimum_calls=4, failure_rate=0.5)
    routes = [Route(path="/{p:path}", service="svc", policy=Policy(breaker=breaker))]
    async with gateway_at(routes, registry) as base:
        for _ in range(4):
            async with http.get(f"{base}/x") as response:
                assert response.status == 503
        async with http.get(f"{base}/x") as response:
            assert response.status == 503
            assert (await response.json())["error"]["type"] == "ServiceUnavailable"
    assert calls["calls"] == 4


async def test_a_slow_upstream_is_cut_off_by_the_route_timeout_with_504(
    registry: MemoryRegistry, calls: dict[str, object], http: aiohttp.ClientSession
) -> None:
    routes = [Route(path="/{p:path}", service="svc", policy=Policy(timeout=0.3))]
    async with gateway_at(routes, registry) as base:
        async with http.get(f"{base}/slow") as response:
            assert response.status == 504
            assert (await response.json())["error"]["type"] == "GatewayTimeout"
        calls["release"].set()  # type: ignore[attr-defined]


async def test_a_body_over_the_limit_is_413_declared_or_streamed(
    registry: MemoryRegistry, calls: dict[str, object], http: aiohttp.ClientSession
) -> None:
    async def stream() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 500

    routes = [Route(path="/{p:path}", service="svc", max_body=1000)]
    async with gateway_at(routes, registry) as base:
        async with http.post(f"{base}/upload", data=b"x" * 1001) as response:
            assert response.status == 413
            assert (await response.json())["error"]["type"] == "PayloadTooLarge"
        async with http.post(f"{base}/upload", data=stream()) as response:
            assert response.status == 413
        async with http.post(f"{base}/upload", data=b"x" * 1000) as response:
            assert await response.json() == {"received": 1000}


async def test_a_route_without_a_policy_is_bounded_by_the_gateway_timeout(
    registry: MemoryRegistry, calls: dict[str, object], http: aiohttp.ClientSession
) -> None:
    routes = [Route(path="/{p:path}", service="svc")]
    async with gateway_at(routes, registry, timeout=0.3) as base:
        async with http.get(f"{base}/slow") as response:
            assert response.status == 504
        calls["release"].set()  # type: ignore[attr-defined]
