"""The shop under ``interlink up`` and its dashboard in real headless Chromium: under a bounded
load the page draws orders → payment (sync) and the orders.placed destination (async) with
numbers; a dead letter appears and is replayed from the page; with payment failing, the
breaker on payment shows open within a few seconds. Screenshots are saved as artifacts."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import interlink as il
from tests.conftest import eventually
from tests.e2e._browser import ROOT, artifacts, page

__all__ = ["page"]

SERVICES = {"orders", "inventory", "payment", "shipping", "notification", "analytics", "auth"}
LIVE = 10_000  # ms: the page polls every second, the collector too
ORDER = {"customer": "ada", "sku": "apple", "qty": 1}


class Shop:
    def __init__(self, directory: str, url: str, client: il.App, env: dict[str, str]) -> None:
        self.directory, self.url, self.client, self.env = directory, url, client, env

    async def order(self) -> dict[str, Any]:
        answer: dict[str, Any] = await self.client.call("orders.place", ORDER, timeout=20)
        return answer

    async def switch(self, service: str, failing: bool) -> None:
        await self.client.call(f"{service}.set_failing", {"failing": failing})


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    directory = str(tmp_path / ".interlink")
    log_path = tmp_path / "up.log"
    log = log_path.open("wb")
    env = {**os.environ, "SHOP_DB": str(tmp_path / "shop.db"), "COLUMNS": "200"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "interlink", "up", "examples.shop:app", "--dir", directory, "--ttl", "2"),
        *("--dashboard-port", "0"),
        cwd=ROOT,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    try:
        found: list[str] = []

        def dashboard_url() -> bool:
            found.extend(
                re.findall(r"dashboard at (http://127\.0\.0\.1:\d+)", log_path.read_text())
            )
            return bool(found)

        await eventually(dashboard_url, timeout=30)
        client = il.App(
            [il.Service("load")], registry="embedded", directory=directory, serve_http=False
        )
        async with client:

            async def all_up() -> bool:
                registry = client.runtime.registry
                return set(await registry.services()) >= SERVICES

            await eventually(all_up, timeout=30)
            shop = Shop(directory, found[0], client, env)

            async def takes_orders() -> bool:
                # Registered is not yet ready end to end (each process's registry view, the
                # consumer groups): the first order may fail while the shop settles.
                try:
                    await shop.order()
                except il.CallError:
                    return False
                return True

            await eventually(takes_orders, timeout=30)
            yield shop
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        log.close()
    assert code == 0, log_path.read_text()[-3000:]


async def load(shop: Shop, orders: int, concurrency: int) -> None:
    async def worker() -> None:
        for _ in range(orders // concurrency):
            await shop.order()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


@pytest.mark.timeout(120)
async def test_the_shop_on_the_dashboard_graph_dead_letter_replay_and_breaker(
    shop: Shop, page: Any, tmp_path: Path
) -> None:
    shots = artifacts()
    await load(shop, 20, 4)
    await page.goto(shop.url)
    await page.locator('#graph line[data-edge="orders->payment"][data-kind="sync"]').wait_for(
        timeout=LIVE
    )
    await page.locator('#graph [data-node="orders.placed"][data-kind="destination"]').wait_for()
    for consumer in ("notification", "analytics"):
        await page.locator(f'#graph line[data-edge="orders.placed->{consumer}"]').wait_for()
    cells = await page.locator('#edges tr[data-edge="orders->payment"] td').all_inner_texts()
    assert cells[:3] == ["orders", "payment", "sync"]
    rate, errors, p50, p95, p99 = cells[3:]
    assert float(rate) > 0, cells
    assert errors == "0.0%"
    assert all(v.endswith(" ms") for v in (p50, p95, p99)), cells
    assert await page.locator("#red tr").count() >= 6
    await page.locator("#sagas tr[data-saga]").first.wait_for(timeout=LIVE)
    await page.screenshot(path=str(shots / "shop-1-graph.png"), full_page=True)

    # A dead letter: notification fails an order's event until its retries are spent.
    await shop.switch("notification", True)
    placed = await shop.order()
    letter = page.locator("#dead-letters tr[data-dead-letter]").first
    await letter.wait_for(timeout=LIVE * 2)
    assert "orders.placed" in await letter.inner_text()
    await page.screenshot(path=str(shots / "shop-2-dead-letter.png"), full_page=True)
    await shop.switch("notification", False)
    await letter.locator("button[data-replay]").click()
    await page.locator("#dead-letters tr[data-dead-letter]").wait_for(
        state="detached", timeout=LIVE
    )

    async def notified() -> bool:
        recent = await shop.client.call("notification.recent", {"limit": 100})
        return any(placed["order_id"] in n["text"] for n in recent)

    await eventually(notified, timeout=20)
    await page.screenshot(path=str(shots / "shop-3-replayed.png"), full_page=True)

    # Payment fails: the orders service's breaker on payment opens, and the page shows it.
    await shop.switch("payment", True)
    failing_since = time.monotonic()
    badge = page.locator('#breakers [data-breaker="payment"][data-state="open"]')
    for _ in range(15):
        with pytest.raises(il.CallError):
            await shop.order()
        if await badge.count():
            break
    await badge.wait_for(timeout=LIVE)
    print(
        f"payment's breaker open on the page {time.monotonic() - failing_since:.1f}s after it failed"
    )
    assert "payment → open" in await page.locator("#breaker-timeline").inner_text()
    await page.screenshot(path=str(shots / "shop-4-breaker-open.png"), full_page=True)

    await page.locator("#traces tr[data-trace]").last.click()
    await page.locator("#waterfall .bar-row").first.wait_for(timeout=LIVE)
    await page.screenshot(path=str(shots / "shop-5-trace.png"), full_page=True)

    await second_dashboard(shop, tmp_path)


async def second_dashboard(shop: Shop, tmp_path: Path) -> None:
    """``interlink dashboard examples.shop:app`` beside ``up``: the embedded registry and
    broker ``up`` runs under --dir, and the app's saga store."""
    log_path = tmp_path / "dashboard.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "interlink", "dashboard", "examples.shop:app", "--dir", shop.directory),
            *("--port", "0"),
            cwd=ROOT,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env=shop.env,
        )
        try:
            await eventually(lambda: "dashboard at" in log_path.read_text(), timeout=30)
            url = re.findall(r"dashboard at (\S+)", log_path.read_text())[0]
            async with aiohttp.ClientSession() as session:

                async def sees_the_shop() -> bool:
                    async with session.get(url + "/api/overview") as answer:
                        overview = await answer.json()
                    async with session.get(url + "/api/sagas") as answer:
                        sagas = (await answer.json())["sagas"]
                    services = {i["service"] for i in overview["instances"]}
                    return services == SERVICES and len(sagas) > 0

                await eventually(sees_the_shop, timeout=20)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0, log_path.read_text()
