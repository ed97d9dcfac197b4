"""The switches as docs/observability.md states them: which settings make spans, what the
environment accepts, and the service named on spans of work started outside any handler."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import interlink as il
from interlink.observe import Observe, Telemetry


@pytest.mark.parametrize("value", ["1", "TRUE", " yes ", "On"])
def test_the_on_values_in_any_case(value: str) -> None:
    assert Observe.from_env({"INTERLINK_TRACING": value, "INTERLINK_METRICS": value}) == Observe(
        tracing=True, metrics=True
    )


@pytest.mark.parametrize("value", ["2", "enabled", "", "y"])
def test_anything_else_is_off(value: str) -> None:
    assert Observe.from_env({"INTERLINK_TRACING": value}) == Observe()


def test_negative_recent_spans_in_the_environment_is_refused() -> None:
    with pytest.raises(il.ConfigurationError):
        Observe.from_env({"INTERLINK_RECENT_SPANS": "-3"})


@pytest.mark.parametrize(
    "observe",
    [
        Observe(exporter="otlp"),
        Observe(exporter="console"),
        Observe.from_env({"INTERLINK_OTLP_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}),
    ],
)
def test_an_exporter_alone_records_nothing(observe: Observe) -> None:
    telemetry = Telemetry(observe, ["s"], "memory://")
    assert telemetry.tracer_provider is None
    assert not telemetry.active


async def test_recent_spans_alone_still_feed_the_exporter_and_app_calls_are_client() -> None:
    service = il.Service("s")

    @service.rpc
    async def echo(req: dict[str, Any]) -> dict[str, Any]:
        return req

    exporter = InMemorySpanExporter()
    app = il.App([service], observe=Observe(recent_spans=10, exporter=exporter))
    async with app:
        await app.call("s.echo", {})
        await app.context("script").call("s.echo", {})
        provider = app.runtime.telemetry.tracer_provider
        assert provider is not None
        provider.force_flush()
    clients = [s for s in exporter.get_finished_spans() if s.kind.name == "CLIENT"]
    assert [(s.attributes or {}).get("interlink.service") for s in clients] == ["client", "script"]
