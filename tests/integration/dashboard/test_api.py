"""The dashboard's JSON API over real HTTP, against a small running world."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from interlink import ConfigurationError
from interlink.dashboard import Dashboard
from tests.conftest import eventually
from tests.integration.dashboard._world import TOPIC, World, world


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[World]:
    async with world(tmp_path) as w:
        yield w


async def get(w: World, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.get(w.dashboard.url + path) as r:
        return r.status, await r.json(content_type=None)


async def post(w: World, path: str, body: bytes, kind: str) -> tuple[int, Any]:
    headers = {"content-type": kind}
    async with (
        aiohttp.ClientSession() as s,
        s.post(w.dashboard.url + path, data=body, headers=headers) as r,
    ):
        return r.status, await r.json(content_type=None)


async def test_the_overview_has_the_graph_red_breakers_and_broker(running: World) -> None:
    async def collected() -> bool:
        return (await get(running, "/api/overview"))[1]["rounds"] >= 1

    await eventually(collected, timeout=10)
    status, body = await get(running, "/api/overview")
    assert status == 200
    edges = {(e["source"], e["target"], e["kind"]) for e in body["topology"]["edges"]}
    assert ("orders", "payment", "sync") in edges
    assert (TOPIC, "notification", "consume") in edges
    assert {"target": "payment.charge", "state": "closed", "instances": 1} in body["breakers"][
        "current"
    ]
    assert body["broker"][0]["pending"] == 7.0
    assert len(body["instances"]) == 3


async def test_a_breaker_that_opens_shows_in_the_overview_and_timeline(running: World) -> None:
    running.open_breaker()

    async def opened() -> bool:
        current = (await get(running, "/api/overview"))[1]["breakers"]["current"]
        return {"target": "payment.charge", "state": "open", "instances": 1} in current

    await eventually(opened, timeout=10)
    timeline = (await get(running, "/api/overview"))[1]["breakers"]["timeline"]
    assert [c["state"] for c in timeline if c["target"] == "payment.charge"] == ["closed", "open"]


async def test_dead_letters_are_listed_and_replayed(running: World) -> None:
    status, body = await get(running, "/api/dead-letters")
    assert status == 200
    [letter] = body["dead_letters"]
    assert (letter["topic"], letter["group"]) == (TOPIC, "notification")
    assert "notification is down" in letter["error_message"]

    assert (await post(running, "/api/dead-letters/replay", b"{}", "text/plain"))[0] == 415
    running.fail[0] = False
    replay = f'{{"topic": "{TOPIC}", "envelope_id": "{letter["envelope_id"]}"}}'.encode()
    status, body = await post(running, "/api/dead-letters/replay", replay, "application/json")
    assert (status, body) == (200, {"replayed": 1})
    await eventually(lambda: running.handled == ["o-1"], timeout=20)
    assert await running.dead_letters() == 0


async def test_sagas_and_a_sagas_step_timeline(running: World) -> None:
    status, body = await get(running, "/api/sagas")
    assert status == 200
    [saga] = body["sagas"]
    assert (saga["id"], saga["name"], saga["status"]) == (running.saga_id, "checkout", "COMPLETED")
    status, detail = await get(running, f"/api/sagas/{running.saga_id}")
    assert [s["name"] for s in detail["steps"]] == ["reserve", "charge"]
    assert all(s["attempts"] and s["attempts"][0]["ended_at"] for s in detail["steps"])
    assert (await get(running, "/api/sagas/nope"))[0] == 404


async def test_traces_and_one_traces_waterfall(running: World) -> None:
    async def some() -> bool:
        return len((await get(running, "/api/traces"))[1]["traces"]) == 5

    await eventually(some, timeout=10)
    first = "a1".ljust(32, "0")
    status, body = await get(running, f"/api/traces/{first}")
    assert status == 200
    assert {s["service"] for s in body["spans"]} >= {"orders", "payment", "notification"}
    assert (await get(running, "/api/traces/" + "f" * 32))[0] == 404


def test_a_non_loopback_bind_needs_a_deliberate_choice() -> None:
    with pytest.raises(ConfigurationError, match="loopback"):
        Dashboard(registry="static:", host="0.0.0.0")
    Dashboard(registry="static:", host="0.0.0.0", public=True)  # allowed when asked for
    Dashboard(registry="static:", host="::1")


async def test_a_bad_replay_body_is_400(running: World) -> None:
    status, body = await post(running, "/api/dead-letters/replay", b"[1]", "application/json")
    assert status == 400
    assert "error" in body


async def test_without_a_broker_there_are_no_dead_letters_and_replay_is_409() -> None:
    async with Dashboard(registry="static:") as board, aiohttp.ClientSession() as s:
        async with s.get(board.url + "/api/dead-letters") as r:
            assert await r.json() == {"broker": False, "dead_letters": []}
        body = b'{"topic": "orders.placed"}'
        headers = {"content-type": "application/json"}
        async with s.post(board.url + "/api/dead-letters/replay", data=body, headers=headers) as r:
            assert r.status == 409
