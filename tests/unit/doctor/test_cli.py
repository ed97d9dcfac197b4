"""``interlink doctor`` on the command line: output, --json, --set, --traces, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import pytest
from typer.testing import CliRunner

from interlink.cli._main import cli
from tests.unit.doctor import spans

ROOT = Path(__file__).resolve().parents[3]
CYCLIC = "tests.unit.doctor.systems:cyclic"
DEEP = "tests.unit.doctor.systems:deep"


def doctor(*args: str) -> Any:
    return CliRunner().invoke(cli, ["doctor", *args])


def test_each_finding_is_a_line_and_an_indented_hint_and_errors_exit_1() -> None:
    result = doctor(CYCLIC)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == "ERROR [IL102] (ca) synchronous calls go round a cycle: ca → cb → ca"
    assert lines[1].startswith("    hint: ")
    assert lines[-1] == "1 error(s), 0 warning(s), 0 info"


def test_warnings_alone_exit_0() -> None:
    result = doctor(DEEP)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("WARNING [IL101] (s0.go) 3 synchronous calls in a row")


def test_json_output() -> None:
    result = doctor(DEEP, "--json")
    body = json.loads(result.output)
    assert body["summary"] == {"error": 0, "warning": 1, "info": 0}
    [finding] = body["findings"]
    assert set(finding) == {"code", "level", "where", "message", "hint", "source"}
    assert (finding["code"], finding["level"], finding["where"]) == ("IL101", "warning", "s0.go")


def test_set_changes_a_threshold() -> None:
    assert doctor(DEEP, "--set", "chain_depth=4").output.startswith("0 error(s)")


@pytest.mark.parametrize(
    "args",
    [
        (DEEP, "--set", "depth=4"),
        (DEEP, "--set", "chain_depth=x"),
        (DEEP, "--set", "chain_depth=0"),
        ("no_such_module_here:app",),
        ("tests.unit.doctor.systems",),
        (),
        ("--traces", "/nonexistent/spans.json"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    assert doctor(*args).exit_code == 2


def test_traces_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "spans.json"
    path.write_text(json.dumps({"next": 9, "spans": spans.chain("a.x", "b.y", "c.z", "d.w")}))
    result = doctor("--traces", str(path))
    assert result.exit_code == 0
    assert result.output.startswith("WARNING [IL101] (a.x) 3 synchronous calls in a row (seen in 1")


class _Spans(BaseHTTPRequestHandler):
    pages: ClassVar[list[list[dict[str, Any]]]] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        after = int(parse_qs(url.query).get("after", ["0"])[0])
        if url.path != "/_interlink/spans":
            self.send_error(404)
            return
        page = self.pages[after] if after < len(self.pages) else []
        body = json.dumps({"next": after + 1 if page else after, "spans": page}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def span_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Spans)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_traces_from_a_running_service_page_by_page(span_server: str) -> None:
    # The cycle a → b → a shows only when both pages are read.
    _Spans.pages = [spans.chain("a.x", "b.y"), spans.chain("b.y", "a.z")]
    result = doctor("--traces", span_server)
    assert result.exit_code == 1, result.output
    assert "ERROR [IL102] (a) synchronous calls go round a cycle: a → b → a" in result.output


def test_the_shop_through_the_installed_entry_point(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SHOP_DB": str(tmp_path / "shop.db"),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "interlink", "doctor", "examples.shop:app", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = {(f["code"], f["where"]) for f in json.loads(result.stdout)["findings"]}
    assert found == {
        ("IL105", "orders.place"),
        ("IL108", "analytics.on_order_placed"),
        ("IL108", "notification.on_order_placed"),
    }


def test_a_module_that_raises_on_import_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "doctor_broken_fixture.py").write_text("raise RuntimeError('broken on import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = doctor("doctor_broken_fixture:app")
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
