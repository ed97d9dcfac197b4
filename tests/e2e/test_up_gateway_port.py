"""The gateway's port: ``interlink gateway`` on a taken port exits 1 saying so (before it
announces an address); ``interlink up`` whose gateway port is taken serves the gateway on a
free port instead, prints it, tells the gateway that port (``INTERLINK_GATEWAY_PORT``), and the
services still run; a taken dashboard port likewise gives the dashboard a free one."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.e2e._up_gateway_app"
CLI = (sys.executable, "-m", "interlink", "gateway")


def test_the_gateway_command_on_a_taken_port_exits_1_and_says_so() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*CLI, f"{APP}:gateway", "--port", str(port), "--registry", "static:"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert f"the gateway cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "interlink gateway at" not in done.stderr


async def test_up_moves_the_gateway_and_dashboard_off_a_taken_port(tmp_path: Path) -> None:
    log_path = tmp_path / "up.log"
    with socket.create_server(("127.0.0.1", 0)) as taken, log_path.open("wb") as log:
        port = taken.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "interlink", "up", f"{APP}:app"),
            *("--dashboard-port", str(port)),  # taken as well
            *("--dir", str(tmp_path / ".interlink")),
            cwd=ROOT,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "INTERLINK_GATEWAY_PORT": str(port)},
        )
        try:
            moved = 0

            def announced() -> bool:
                nonlocal moved
                found = re.search(
                    rf"port {port} is taken; listening on (\d+)", log_path.read_text()
                )
                moved = int(found.group(1)) if found else 0
                return moved != 0

            await eventually(announced, timeout=30)
            assert moved != port
            async with aiohttp.ClientSession() as http:

                async def served() -> bool:
                    try:
                        async with http.post(f"http://127.0.0.1:{moved}/ping", json={"n": 7}) as r:
                            return r.status == 200 and await r.json() == {"pong": 7}
                    except aiohttp.ClientError:
                        return False

                await eventually(served, timeout=60)
                async with http.get(f"http://127.0.0.1:{moved}/port") as response:
                    assert await response.text() == str(moved)  # what the gateway is told
                board = re.search(r"dashboard at (http://127.0.0.1:(\d+))", log_path.read_text())
                assert board is not None
                assert int(board.group(2)) != port
                async with http.get(board.group(1)) as response:
                    assert response.status == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                raise
    text = log_path.read_text()
    assert code == 0, text[-3000:]
    assert "restart #" not in text, text[-3000:]
    assert f"interlink gateway at http://127.0.0.1:{moved}" in text
