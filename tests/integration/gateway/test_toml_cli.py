"""Gateway.from_toml, and ``interlink gateway`` serving a TOML file in its own process."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from interlink._errors import ConfigurationError
from interlink.discovery import MemoryRegistry
from interlink.gateway import Gateway
from tests.conftest import eventually, free_port
from tests.integration.gateway._servers import echo_app, register, serve

ROOT = Path(__file__).resolve().parents[3]

CONFIG = """
[[route]]
path = "/api/orders/{id}"
service = "orders"
methods = ["GET"]
rewrite = "/orders/{id}"
timeout = 2.0
retries = 3
versions = { header = "version" }

[[route]]
path = "/home/{id}"
[route.aggregate.order]
service = "orders"
path = "/orders/{id}"
[route.aggregate.recs]
service = "recs"
path = "/recs/{id}"
fallback = []

[[bff]]
name = "mobile"
project = { who = "instance", at = "path" }
[[bff.route]]
path = "/orders/{id}"
service = "orders"
"""


async def test_a_toml_gateway_routes_aggregates_and_projects(
    tmp_path: Path, registry: MemoryRegistry, http: aiohttp.ClientSession
) -> None:
    app = echo_app("o1", "v1")
    app.state.calls["fail"] = 1  # the first GET fails; retries = 3 covers it
    (tmp_path / "gw.toml").write_text(CONFIG)
    gateway = Gateway.from_toml(str(tmp_path / "gw.toml"), registry=registry)
    async with serve(app) as port, serve(gateway, lifespan="on") as gport:
        await register(registry, "orders", "o1", port, version="v1")
        base = f"http://127.0.0.1:{gport}"
        async with http.get(f"{base}/api/orders/9", headers={"version": "v1"}) as response:
            assert (await response.json())["path"] == "/orders/9"
        async with http.get(f"{base}/home/9") as response:
            body = await response.json()
            assert response.headers["x-interlink-complete"] == "false"
        async with http.get(f"{base}/api/mobile/orders/3") as response:
            assert await response.json() == {"who": "o1", "at": "/orders/3"}
    assert body["data"]["recs"] == []
    assert body["data"]["order"]["path"] == "/orders/9"


def test_an_unknown_route_key_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('[[route]]\npath = "/x"\nservice = "s"\nbreaker = 1\n')
    with pytest.raises(ConfigurationError, match="breaker"):
        Gateway.from_toml(str(tmp_path / "bad.toml"))


async def test_interlink_gateway_serves_a_toml_file_until_sigterm(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    async with serve(echo_app("s")) as upstream:
        config = tmp_path / "gw.toml"
        config.write_text(
            f'registry = "static:svc=127.0.0.1:{upstream}"\n'
            '[[route]]\npath = "/api/{rest:path}"\nservice = "svc"\nrewrite = "/{rest}"\n'
        )
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "interlink",
            "gateway",
            str(config),
            "--port",
            str(port),
            cwd=ROOT,
        )
        try:

            async def answers() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/api/x/y") as response:
                        return (await response.json())["path"] == "/x/y"
                except aiohttp.ClientError:
                    return False

            await eventually(answers, timeout=30)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 20)
        assert code == 0
