"""``interlink dashboard``: serves the page over the registry it is given, refuses a registry
it cannot see into, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.conftest import eventually, free_port
from tests.e2e._browser import ROOT

CLI = (sys.executable, "-m", "interlink", "dashboard")


async def test_the_dashboard_command_serves_the_page_and_api_until_sigterm(tmp_path: Path) -> None:
    log_path = tmp_path / "dashboard.log"
    port = free_port()
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *CLI,
            *("--registry", f"static:ghost=127.0.0.1:{free_port()}", "--port", str(port)),
            cwd=ROOT,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await eventually(lambda: "dashboard at" in log_path.read_text(), timeout=30)
            url = re.findall(r"dashboard at (\S+)", log_path.read_text())[0]
            assert url == f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as session:
                async with session.get(url + "/") as index:
                    assert index.status == 200
                    assert "dashboard.js" in await index.text()
                async with session.get(url + "/static/dashboard.js") as script:
                    assert script.status == 200

                async def polled() -> bool:
                    async with session.get(url + "/api/overview") as overview:
                        body = await overview.json()
                    return body["rounds"] >= 1 and body["instances"][0]["error"] is not None

                await eventually(polled, timeout=20)  # the ghost instance is down: shown so
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0, log_path.read_text()


def test_a_memory_registry_is_refused_with_a_hint(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "--registry", "memory://", "--dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "interlink up" in done.stderr


def test_a_taken_port_is_an_error(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, "--registry", "static:", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert "cannot listen" in done.stderr
