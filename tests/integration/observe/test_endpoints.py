"""``/metrics`` and ``/_interlink/spans`` over real HTTP, and what is made when all is off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

import interlink as il
from interlink.observe import Observe

svc = il.Service("echo")


@svc.rpc
async def echo(req: dict[str, Any]) -> dict[str, Any]:
    return req


async def get(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as r:
        return r.status, r.headers.get("content-type", ""), await r.read()


@pytest.fixture
async def off_app(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[il.App]:
    for name in ("INTERLINK_TRACING", "INTERLINK_METRICS", "INTERLINK_RECENT_SPANS"):
        monkeypatch.delenv(name, raising=False)
    async with il.App([svc], port=0) as app:
        yield app


async def test_off_by_default_nothing_is_made_and_the_endpoints_are_404(off_app: il.App) -> None:
    telemetry = off_app.runtime.telemetry
    assert telemetry.tracer_provider is None
    assert telemetry.registry is None
    assert telemetry.recorder is None
    assert not telemetry.active
    assert (await get(f"{off_app.url}/metrics"))[0] == 404
    assert (await get(f"{off_app.url}/_interlink/spans"))[0] == 404


async def test_the_environment_turns_metrics_and_spans_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLINK_METRICS", "1")
    monkeypatch.setenv("INTERLINK_RECENT_SPANS", "5")
    async with il.App([svc], port=0) as app:
        telemetry = app.runtime.telemetry
        assert telemetry.registry is not None
        assert telemetry.recorder is not None
        assert telemetry.recorder.size == 5
        assert telemetry.tracer_provider is not None
        assert (await get(f"{app.url}/metrics"))[0] == 200


async def test_metrics_are_prometheus_text_from_a_registry_of_the_app_s_own() -> None:
    async with il.App([svc], port=0, observe=Observe(metrics=True)) as app:
        status, content_type, body = await get(f"{app.url}/metrics")
        assert status == 200
        assert content_type == "text/plain; version=0.0.4; charset=utf-8"
        names = {f.name for f in text_string_to_metric_families(body.decode())}
        assert "http_server_request_duration_seconds" in names
        assert (await get(f"{app.url}/_interlink/spans"))[0] == 404  # recent_spans=0
