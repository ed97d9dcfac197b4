"""``interlink up examples.shop:app`` starts the shop's gateway too: its web and mobile BFFs
reach the services through the embedded registry."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.conftest import eventually, free_port

ROOT = Path(__file__).resolve().parents[2]
ORDER = {"customer": "ada", "sku": "apple", "qty": 2}


async def test_up_serves_the_shop_through_its_gateway(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "up.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "interlink",
        "up",
        "examples.shop:app",
        "--dir",
        str(tmp_path / ".interlink"),
        cwd=ROOT,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "INTERLINK_GATEWAY_PORT": str(port)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:

            async def serving() -> bool:
                try:
                    async with http.get(f"{base}/api/web/inventory/apple") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(serving, timeout=60)
            async with http.post(f"{base}/api/web/orders", json=ORDER) as response:
                assert response.status == 200
                placed = await response.json()
            async with http.get(f"{base}/api/mobile/orders/{placed['order_id']}") as response:
                assert await response.json() == {
                    "id": placed["order_id"],
                    "total": placed["total_cents"],
                }
            page = f"{base}/api/web/order-page/{placed['order_id']}/apple"
            async with http.get(page) as response:
                assert response.headers["x-interlink-complete"] == "true"
                body = await response.json()
            assert body["data"]["order"] == placed
            assert body["data"]["stock"]["sku"] == "apple"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            raise
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
