"""The shared limit: two gateway processes, one real redis-server, 200 concurrent requests."""

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

from interlink.gateway import RateLimit, RedisStore
from tests.conftest import RedisServer, eventually, free_port, stop_process
from tests.integration.gateway._edge_support import Echo, serving

ROOT = Path(__file__).resolve().parents[3]
LIMIT = 50


@pytest.fixture
def replicas(redis_server: RedisServer) -> Iterator[list[str]]:
    """Two uvicorn processes serving ``_ratelimit_app`` against the same Redis."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
        "INTERLINK_TEST_REDIS": redis_server.url,
        "INTERLINK_TEST_PREFIX": f"test:{uuid.uuid4().hex}:",
        "INTERLINK_TEST_LIMIT": str(LIMIT),
    }
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "tests.integration.gateway._ratelimit_app:app"),
                *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            ],
            cwd=ROOT,
            env=env,
        )
        for port in ports
    ]
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            stop_process(process)


@pytest.mark.parametrize("path", ["/window", "/bucket"])
async def test_two_replicas_allow_exactly_the_limit_under_200_concurrent_requests(
    replicas: list[str], path: str
) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def up() -> bool:
            try:
                for base in replicas:
                    async with session.get(f"{base}/health") as response:
                        assert response.status == 200
            except aiohttp.ClientError:
                return False
            return True

        await eventually(up, timeout=30)

        async def one(i: int) -> int:
            async with session.get(replicas[i % 2] + path) as response:
                return response.status

        statuses = Counter(await asyncio.gather(*(one(i) for i in range(200))))
    assert statuses == {200: LIMIT, 429: 200 - LIMIT}


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
    assert retry is not None
    assert 1 <= int(retry) <= 60
