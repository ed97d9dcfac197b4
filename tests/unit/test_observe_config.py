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
