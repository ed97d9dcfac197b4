"""Each optional backend is behind a pip extra, imported only when used, and a missing client
library is an error that names the extra to install."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from interlink import ConfigurationError
from interlink.broker import broker_from_url

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = {"redis": ("redis",), "rabbitmq": ("aio_pika",), "kafka": ("aiokafka",)}
"""extra -> the top-level modules its client library provides"""
URLS = {"redis": "redis://127.0.0.1:1", "rabbitmq": "amqp://guest:guest@127.0.0.1:1/"}


def test_every_broker_extra_is_declared() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    wanted = {"redis": "redis", "rabbitmq": "aio-pika", "kafka": "aiokafka"}
    for extra, package in wanted.items():
        assert any(spec.startswith(package) for spec in extras[extra]), extra


def test_interlink_imports_without_any_optional_client() -> None:
    blocked = [name for names in CLIENTS.values() for name in names]
    code = (
        f"import sys\nfor name in {blocked!r}: sys.modules[name] = None\n"
        "import interlink, interlink.broker, interlink.cli._main\n"
        "from interlink.broker import broker_from_url\n"
        f"for url in {list(URLS.values())!r}: broker_from_url(url)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("extra", sorted(URLS))
async def test_a_missing_client_names_the_extra(
    extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(sys.modules):
        if name.partition(".")[0] in CLIENTS[extra]:
            monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    for name in CLIENTS[extra]:
        monkeypatch.setitem(sys.modules, name, None)  # type: ignore[arg-type]
    broker = broker_from_url(URLS[extra])
    with pytest.raises(ConfigurationError, match=rf'pip install "interlink\[{extra}\]"'):
        await broker.connect()
