"""Starting the dashboard: a registry that never answers is an error in bounded time, not a
hang (a NATS client retries an unreachable server forever)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from interlink import ConfigurationError
from interlink.dashboard import Dashboard, SagaSource


async def test_a_registry_that_never_answers_fails_the_start_within_connect_timeout() -> None:
    # A socket that listens and never says anything: NATS waits for its INFO, then retries.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        board = Dashboard(registry=f"nats://127.0.0.1:{port}", connect_timeout=0.5)
        started = time.monotonic()
        async with asyncio.timeout(10):  # without the bound the start never ends
            with pytest.raises(ConfigurationError, match="could not reach the registry"):
                async with board:
                    pass
        assert time.monotonic() - started < 8


async def test_a_broker_that_never_answers_fails_the_start_too(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        board = Dashboard(
            registry="memory://",
            broker=f"nats://127.0.0.1:{port}",
            sagas=[SagaSource(f"sqlite:///{tmp_path / 'sagas.db'}")],
            connect_timeout=0.5,
        )
        async with asyncio.timeout(10):
            with pytest.raises(ConfigurationError, match="could not reach the broker"):
                async with board:
                    pass


@pytest.mark.parametrize(
    "bad", [{"window": 0.0}, {"interval": -1.0}, {"connect_timeout": 0.0}, {"host": "0.0.0.0"}]
)
def test_bad_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        Dashboard(registry="memory://", **bad)  # type: ignore[arg-type]
