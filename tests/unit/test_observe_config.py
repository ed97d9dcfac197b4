"""``Observe``: off by default, read from the environment, checked when made."""

from __future__ import annotations

import pytest

import interlink as il
from interlink.observe import Observe


def test_everything_is_off_by_default() -> None:
    observe = Observe()
    assert (observe.tracing, observe.metrics, observe.recent_spans) == (False, False, 0)
    assert not observe.enabled
    assert Observe.from_env({}) == observe


def test_the_environment_turns_each_part_on() -> None:
    observe = Observe.from_env(
        {
            "INTERLINK_TRACING": "1",
            "INTERLINK_METRICS": "true",
            "INTERLINK_RECENT_SPANS": "50",
            "INTERLINK_OTLP_ENDPOINT": "http://127.0.0.1:4318/v1/traces",
        }
    )
    assert observe == Observe(
        tracing=True,
        metrics=True,
        recent_spans=50,
        exporter="otlp",
        otlp_endpoint="http://127.0.0.1:4318/v1/traces",
    )
    assert not Observe.from_env({"INTERLINK_TRACING": "0"}).tracing


def test_recent_spans_alone_turns_spans_on() -> None:
    assert Observe(recent_spans=1).traces
    assert not Observe(metrics=True).traces


@pytest.mark.parametrize(
    "make",
    [
        lambda: Observe(recent_spans=-1),
        lambda: Observe(exporter="jaeger"),  # type: ignore[arg-type]
        lambda: Observe.from_env({"INTERLINK_RECENT_SPANS": "many"}),
    ],
)
def test_a_bad_setting_is_a_configuration_error(make: object) -> None:
    with pytest.raises(il.ConfigurationError):
        make()  # type: ignore[operator]


def test_an_explicit_observe_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERLINK_METRICS", "1")
    assert il.App([], observe=Observe()).observe == Observe()
    assert il.App([]).observe.metrics


def test_the_messaging_system_is_the_conventions_name_for_the_broker() -> None:
    from interlink.observe import Telemetry

    systems = {
        url: Telemetry(Observe(), ["a"], url).messaging_system
        for url in ("memory://", "embedded", "nats://h:4222", "amqp://h", "redis://h", "kafka://h")
    }
    assert systems == {
        "memory://": "memory",
        "embedded": "nats",
        "nats://h:4222": "nats",
        "amqp://h": "rabbitmq",
        "redis://h": "redis",
        "kafka://h": "kafka",
    }


OFF = """
import asyncio, sys
import interlink as il

svc = il.Service("s")

@svc.rpc
async def ping(req: dict) -> dict:
    return req

async def main() -> None:
    async with il.App([svc], port=0, observe=il.Observe()) as app:
        await app.call("s.ping", {})
    loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry", "prometheus_client")))
    print(loaded)

asyncio.run(main())
"""


def test_with_everything_off_no_tracing_or_metrics_package_is_even_imported() -> None:
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", OFF],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
