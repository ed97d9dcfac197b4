"""``interlink up examples.shop:app`` starts the shop's gateway too: a JWT login, then its web
and mobile BFFs reach the services through the embedded registry, and the WebSocket feed
pushes the customer's own order event."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import websockets
from websockets.asyncio.client import ClientConnection

from tests.conftest import eventually, free_port

ROOT = Path(__file__).resolve().parents[2]
ORDER = {"customer": "ada", "sku": "apple", "qty": 2}


async def _next_event(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == "event":
                return frame


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
            token = ""

            async def serving() -> bool:
                nonlocal token
                try:
                    async with http.post(f"{base}/api/login", json={"customer": "ada"}) as got:
                        if got.status != 200:
                            return False
                        token = (await got.json())["access_token"]
                    headers = {"authorization": f"Bearer {token}"}
                    async with http.get(f"{base}/api/web/inventory/apple", headers=headers) as got:
                        return got.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(serving, timeout=60)
            async with http.post(f"{base}/api/web/orders", json=ORDER) as response:
                assert response.status == 401  # no token
            http.headers["authorization"] = f"Bearer {token}"
            feed = f"ws://127.0.0.1:{port}/ws/orders?access_token={token}"
            async with websockets.connect(feed) as ws:
                await ws.send(json.dumps({"op": "subscribe", "topic": "orders.placed"}))
                assert json.loads(await ws.recv())["type"] == "subscribed"
                placed: dict[str, Any] = {}

                async def place() -> bool:
                    async with http.post(f"{base}/api/web/orders", json=ORDER) as response:
                        if response.status == 503:  # a service the order needs is starting
                            return False
                        assert response.status == 200, await response.text()
                        placed.update(await response.json())
                        return True

                await eventually(place, timeout=60)
                event = await _next_event(ws)
            assert event["data"]["order_id"] == placed["order_id"]
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
            await proc.wait()
            raise
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
