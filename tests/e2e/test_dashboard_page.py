"""The dashboard page in real headless Chromium, over a small running world (instances on
real sockets serving recorded spans and metrics, a real broker with a real dead letter, a real
saga store): it draws the graph with numbers, shows a breaker opening, and replays a dead
letter from a click."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import eventually
from tests.e2e._browser import artifacts, page
from tests.integration.dashboard._world import TOPIC, world

__all__ = ["page"]

LIVE = 10_000  # ms: the page polls every second; a change shows within a few


async def test_the_page_shows_the_graph_breakers_dead_letters_sagas_and_traces(
    page: Any, tmp_path: Path
) -> None:
    shots = artifacts()
    async with world(tmp_path) as w:
        await page.goto(w.dashboard.url)
        sync = page.locator('#graph line[data-edge="orders->payment"][data-kind="sync"]')
        await sync.wait_for(timeout=LIVE)
        await page.locator(f'#graph [data-node="{TOPIC}"][data-kind="destination"]').wait_for()
        consume = page.locator(f'#graph line[data-edge="{TOPIC}->notification"]')
        assert await consume.get_attribute("data-kind") == "consume"
        row = page.locator('#edges tr[data-edge="orders->payment"]')
        assert "66.7%" in await row.inner_text()  # 2 of 3 calls failed
        label = page.locator('#graph [data-edge-label="orders->payment"]')
        assert "p95" in (await label.text_content() or "")
        red = page.locator('#red tr[data-operation="payment.payment.charge"]')
        assert "50.0%" in await red.inner_text()
        badge = page.locator('#breakers [data-breaker="payment.charge"]')
        assert await badge.get_attribute("data-state") == "closed"
        await page.screenshot(path=str(shots / "1-graph.png"), full_page=True)

        w.open_breaker()
        await page.locator('#breakers [data-breaker="payment.charge"][data-state="open"]').wait_for(
            timeout=LIVE
        )
        assert "payment.charge → open" in await page.locator("#breaker-timeline").inner_text()
        await page.screenshot(path=str(shots / "2-breaker-open.png"), full_page=True)

        letter = page.locator("#dead-letters tr[data-dead-letter]").first
        await letter.wait_for(timeout=LIVE)
        assert "notification is down" in await letter.inner_text()
        await page.screenshot(path=str(shots / "3-dead-letter.png"), full_page=True)
        w.fail[0] = False
        await letter.locator("button[data-replay]").click()
        await eventually(lambda: w.handled == ["o-1"], timeout=20)
        await page.locator("#dead-letters tr[data-dead-letter]").wait_for(
            state="detached", timeout=LIVE
        )
        assert await w.dead_letters() == 0
        await page.screenshot(path=str(shots / "4-replayed.png"), full_page=True)

        await page.locator(f'#sagas tr[data-saga="{w.saga_id}"]').click()
        await page.locator('#saga-detail [data-step="charge"]').wait_for(timeout=LIVE)
        await page.locator('#traces tr[data-trace^="a1"]').click()
        await page.locator("#waterfall .bar-row").first.wait_for(timeout=LIVE)
        services = await page.locator("#waterfall").inner_text()
        assert "notification · consumer" in services  # the event's consumer, through the link
        await page.screenshot(path=str(shots / "5-saga-and-trace.png"), full_page=True)
