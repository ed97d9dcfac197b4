"""``interlink up --broker URL``: the services run on that broker (the registry stays
embedded), on every server backend."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

import interlink as il
from interlink import DeadlineExceeded
from tests.conformance.broker.conftest import CLI_SERVERS, SERVERS
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", CLI_SERVERS)
async def test_up_runs_the_services_on_the_broker_given(
    request: pytest.FixtureRequest, kind: str, tmp_path: Path
) -> None:
    url = str(request.getfixturevalue(SERVERS[kind]).url)
    directory = str(tmp_path / ".interlink")
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "interlink", "up", "tests.e2e._up_broker_app:app", "--broker", url),
            *("--dir", directory, "--ttl", "2"),
            cwd=ROOT,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env=dict(os.environ),
        )
        try:
            answers: list[dict[str, int]] = []
            async with il.App([], broker=url, serve_http=False) as client:

                async def answered() -> bool:
                    # Until the child's group exists, a request reaches nobody: ask again.
                    try:
                        answers.append(
                            await client.context().request(
                                "up.echo", {}, returns=dict[str, int], timeout=1.0
                            )
                        )
                    except DeadlineExceeded:
                        return False
                    return True

                await eventually(answered, timeout=40)
            assert answers[0]["pid"] != os.getpid()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise
    text = log_path.read_text()
    assert code == 0, text[-3000:]
    if kind != "nats":
        assert "services use the broker at" in text
    assert ":guest@" not in text  # no password in the log
