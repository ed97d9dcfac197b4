"""The command line against a real ``interlink run`` process, as a newcomer would use it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def interlink(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "interlink", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"interlink run exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)  # polling a child process's readiness; bounded by the deadline
    raise AssertionError(f"interlink run did not become ready:\n{log.read_text()}")


@contextlib.contextmanager
def serving(app: str, log: Path, *extra: str) -> Iterator[str]:
    """``interlink run APP`` on a free port; stopped by pid with SIGTERM, which must exit 0."""
    port = free_port()
    with (
        log.open("wb") as out,
        subprocess.Popen(
            [sys.executable, "-m", "interlink", "run", app, "--port", str(port), *extra],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        ) as proc,
    ):
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, proc, log)
            yield url
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise
        assert code == 0, log.read_text()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving("examples.shop:app", tmp_path_factory.mktemp("shop") / "run.log") as url:
        yield url


def test_call_places_an_order_and_consumers_react(shop: str) -> None:
    before = json.loads(interlink("call", "analytics.stats", "{}", "--url", shop).stdout)
    placed = interlink(
        "call", "orders.place", '{"customer": "ada", "sku": "apple", "qty": 2}', "--url", shop
    )
    assert placed.returncode == 0, placed.stderr
    order = json.loads(placed.stdout)
    assert order["total_cents"] == 240
    assert order["order_id"].startswith("ord-")
    deadline = time.monotonic() + 10
    while True:
        stats = json.loads(interlink("call", "analytics.stats", "{}", "--url", shop).stdout)
        if stats["orders"] == before["orders"] + 1 or time.monotonic() > deadline:
            break
    assert stats["orders"] == before["orders"] + 1
    notes = json.loads(
        interlink("call", "notification.recent", '{"limit": 5}', "--url", shop).stdout
    )
    assert any(order["order_id"] in n["text"] for n in notes)


def test_publish_and_services(shop: str) -> None:
    published = interlink("publish", "shop.audit", '{"who": "ada"}', "--key", "k1", "--url", shop)
    assert (published.returncode, published.stdout.strip()) == (0, "published to shop.audit")
    listing = interlink("services", "--url", shop)
    assert listing.returncode == 0, listing.stderr
    for name in ("orders", "inventory", "payment", "notification", "analytics"):
        assert name in listing.stdout
    assert shop in listing.stdout


def test_clear_one_line_errors(shop: str) -> None:
    cases = [
        (("call", "orders.place", "{not json", "--url", shop), 2, "invalid JSON"),
        (("call", "ghost.method", "{}", "--url", shop), 1, "no service 'ghost'"),
        (
            (
                "call",
                "orders.place",
                '{"customer": "ada", "sku": "apple", "qty": 0}',
                "--url",
                shop,
            ),
            1,
            "qty",
        ),
        (
            (
                "call",
                "orders.place",
                '{"customer": "ada", "sku": "plum", "qty": 999}',
                "--url",
                shop,
            ),
            1,
            "OutOfStock",
        ),
        (
            ("call", "orders.place", "{}", "--url", f"http://127.0.0.1:{free_port()}"),
            1,
            "cannot connect",
        ),
        (("publish", "t", "[1,", "--url", shop), 2, "invalid JSON"),
        (("run", "no_such_module:app"), 2, "cannot import 'no_such_module'"),
        (("run", "examples.shop:nothing"), 2, "has no attribute 'nothing'"),
        (("run", "examples.shop"), 2, "expected MODULE:APP"),
        (("run", "examples.shop.models:PlaceOrder"), 2, "not an interlink App"),
        (("run", "examples.shop:app", "--only", "ghost", "--port", "0"), 1, "unknown service"),
    ]
    for args, code, text in cases:
        result = interlink(*args)
        assert result.returncode == code, (args, result.stderr)
        assert text in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr, (args, result.stderr)


def test_only_runs_a_subset_and_reaches_the_rest_through_the_registry(
    shop: str, tmp_path: Path
) -> None:
    shop_port = shop.rsplit(":", 1)[1]
    module = ROOT / "tests" / "e2e" / "_only_app.py"
    module.write_text(
        "from examples.shop import app\n"
        f"app = app.replace(registry='static:inventory=127.0.0.1:{shop_port},"
        f"payment=127.0.0.1:{shop_port},shipping=127.0.0.1:{shop_port}')\n"
    )
    try:
        with serving("tests.e2e._only_app:app", tmp_path / "only.log", "--only", "orders") as url:
            placed = interlink(
                "call", "orders.place", '{"customer": "bo", "sku": "pear", "qty": 1}', "--url", url
            )
            assert placed.returncode == 0, placed.stderr
            assert json.loads(placed.stdout)["total_cents"] == 95
            other = interlink("call", "payment.charge", "{}", "--url", url)
            assert "no service 'payment'" in other.stderr
    finally:
        module.unlink()
