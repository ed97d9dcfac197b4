"""The shared limit: two ``interlink gateway`` processes proxying to one upstream service,
one real redis-server, 200 concurrent requests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio

from interlink.gateway import RateLimit, RedisStore
from tests.conftest import RedisServer, eventually, free_port, stop_process
from tests.integration.gateway._edge_support import Echo, serving

ROOT = Path(__file__).resolve().parents[3]
LIMIT = 50
HELPER = "tests.integration.gateway._shared_gateway"


@pytest.fixture(scope="module")
def system(redis_server: RedisServer) -> Iterator[tuple[str, list[str]]]:
    """One upstream process and two ``interlink gateway`` processes that find it through the
    same ``static:`` registry and share one Redis; yields the upstream and gateway URLs."""
    upstream_port, *gateway_ports = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
        "INTERLINK_TEST_REDIS": redis_server.url,
        "INTERLINK_TEST_PREFIX": f"test:{uuid.uuid4().hex}:",
        "INTERLINK_TEST_LIMIT": str(LIMIT),
    }
    commands = [
        [
            *(sys.executable, "-m", "uvicorn", f"{HELPER}:upstream", "--lifespan", "off"),
            *("--host", "127.0.0.1", "--port", str(upstream_port), "--log-level", "warning"),
        ],
        *(
            [
                *(sys.executable, "-m", "interlink", "gateway", f"{HELPER}:gateway"),
                *("--host", "127.0.0.1", "--port", str(port)),
            ]
            for port in gateway_ports
        ),
    ]
    registry = {"INTERLINK_TEST_REGISTRY": f"static:upstream=127.0.0.1:{upstream_port}"}
    processes = [
        subprocess.Popen(command, cwd=ROOT, env={**env, **(registry if i else {})})
        for i, command in enumerate(commands)
    ]
    try:
        yield (
            f"http://127.0.0.1:{upstream_port}",
            [f"http://127.0.0.1:{port}" for port in gateway_ports],
        )
    finally:
        for process in processes:
            stop_process(process)


@pytest.mark.parametrize("path", ["/window", "/bucket"])
async def test_two_gateways_pass_exactly_the_limit_upstream_under_200_concurrent_requests(
    system: tuple[str, list[str]], path: str
) -> None:
    upstream, gateways = system
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def up() -> bool:
            try:
                async with session.get(f"{upstream}/count") as response:
                    assert response.status == 200
                for base in gateways:  # no route at / : a 404 from the gateway means it is up
                    async with session.get(f"{base}/") as response:
                        assert response.status == 404
            except aiohttp.ClientError:
                return False
            return True

        await eventually(up, timeout=30)

        async def one(i: int) -> tuple[int, str, str | None]:
            async with session.get(gateways[i % 2] + path) as response:
                return response.status, await response.text(), response.headers.get("Retry-After")

        answers = await asyncio.gather(*(one(i) for i in range(200)))
        async with session.get(f"{upstream}/count") as response:
            seen = await response.json(content_type=None)
    assert Counter(status for status, _, _ in answers) == {200: LIMIT, 429: 200 - LIMIT}
    assert all(body == "ok" for status, body, _ in answers if status == 200)  # from upstream
    refusals = [retry for status, _, retry in answers if status == 429]
    assert all(retry is not None and int(retry) >= 1 for retry in refusals)
    assert seen.get(path) == LIMIT  # the upstream saw exactly the allowed requests


async def test_redis_down_fails_open_or_closed_as_configured() -> None:
    dead = f"redis://127.0.0.1:{free_port()}"
    fail_open = RateLimit(1, 60, store=RedisStore(dead, timeout=2.0))
    fail_closed = RateLimit(1, 60, store=RedisStore(dead, timeout=2.0), on_store_error="deny")
    async with fail_open, fail_closed, aiohttp.ClientSession() as session:
        async with serving(fail_open.wrap(Echo())) as base:
            statuses = []
            for _ in range(3):
                async with session.get(base) as response:
                    statuses.append(response.status)
                    assert "RateLimit-Limit" not in response.headers
        async with serving(fail_closed.wrap(Echo())) as base, session.get(base) as response:
            body = await response.json()
    assert statuses == [200, 200, 200]
    assert response.status == 503
    assert body["error"]["type"] == "ServiceUnavailable"


async def test_a_shared_window_counts_across_limiters_and_reports_headers(
    redis_server: RedisServer,
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    first = RateLimit(2, 60, key="route", store=RedisStore(redis_server.url, prefix=prefix))
    second = RateLimit(2, 60, key="route", store=RedisStore(redis_server.url, prefix=prefix))
    async with (
        first,
        second,
        aiohttp.ClientSession() as session,
        serving(first.wrap(Echo())) as a,
        serving(second.wrap(Echo())) as b,
    ):
        seen = []
        for base in (a, b, a):
            async with session.get(base) as response:
                seen.append((response.status, response.headers.get("RateLimit-Remaining")))
                retry = response.headers.get("Retry-After")
    assert seen == [(200, "1"), (200, "0"), (429, "0")]
    async with redis.asyncio.Redis.from_url(redis_server.url) as client:
        ttl = await client.pttl(f"{prefix}default:sliding_window:route")
    assert 60_000 < ttl <= 61_000  # the log expires once idle: per + 1 s
    assert retry is not None
    assert 1 <= int(retry) <= 60
