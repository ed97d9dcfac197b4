"""What ``interlink dashboard`` and ``interlink up`` decide before anything runs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import interlink as il
from interlink.cli._dashboard import OBSERVE_ENV, addresses, free_or_any
from interlink.cli._load import CliError
from interlink.cli._up import _children


def test_a_registry_given_is_used_and_no_broker_means_no_dead_letters(tmp_path: Path) -> None:
    assert addresses(None, "nats://127.0.0.1:1", None, str(tmp_path)) == (
        "nats://127.0.0.1:1",
        None,
    )


def test_the_apps_server_urls_are_used(tmp_path: Path) -> None:
    app = il.App([], registry="nats://127.0.0.1:1", broker="redis://127.0.0.1:2")
    assert addresses(app, None, None, str(tmp_path)) == (
        "nats://127.0.0.1:1",
        "redis://127.0.0.1:2",
    )


def test_an_in_process_registry_with_no_up_running_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="interlink up") as refused:
        addresses(il.App([]), None, None, str(tmp_path))
    assert refused.value.code == 2
    with pytest.raises(CliError):
        addresses(None, "memory://", None, str(tmp_path))


def test_up_takes_any_free_port_when_its_port_is_taken() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert free_or_any("127.0.0.1", port) == 0
    assert free_or_any("127.0.0.1", port) == port


def test_up_switches_telemetry_on_in_its_services_unless_set_already(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INTERLINK_RECENT_SPANS", "50")
    [child] = _children("m:app", {"orders": 1}, "d", 2.0, "embedded", True)
    assert child.env["INTERLINK_TRACING"] == child.env["INTERLINK_METRICS"] == "1"
    assert child.env["INTERLINK_RECENT_SPANS"] == "50"
    assert OBSERVE_ENV["INTERLINK_RECENT_SPANS"] == "2000"
    monkeypatch.delenv("INTERLINK_TRACING", raising=False)
    [plain] = _children("m:app", {"orders": 1}, "d", 2.0, "embedded", False)
    assert "INTERLINK_TRACING" not in plain.env
