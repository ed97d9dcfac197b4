"""The pytest plugin: declared as a ``pytest11`` entry point, and its fixtures work in a test
run of their own (pytester, with only this plugin and pytest-asyncio loaded)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
PLUGINS = ("-p", "pytest_asyncio.plugin", "-p", "interlink.testing.pytest_plugin")

USER_TESTS = """
import interlink as il
from interlink.testing import FakeClock, TestApp

svc = il.Service("greeter")
stopped = []


@svc.rpc
async def greet(req: dict[str, str]) -> dict[str, str]:
    return {"hello": req["name"]}


@svc.subscribe("greeted")
async def on_greeted(evt: dict[str, str]) -> None:
    pass


app = il.App([svc])


async def test_interlink_app_starts_a_test_app(interlink_app):
    t = await interlink_app(app)
    assert isinstance(t, TestApp)
    assert await t.call(greet, {"name": "ada"}) == {"hello": "ada"}
    await t.publish("greeted", {"name": "ada"})
    await t.drain()
    assert t.published("greeted") == [{"name": "ada"}]
    stopped.append(t)


def test_the_app_was_stopped_after_the_test():
    (t,) = stopped
    assert t.app._runtime is None


async def test_several_apps_and_a_fake_clock(interlink_app, interlink_clock):
    assert isinstance(interlink_clock, FakeClock)
    first = await interlink_app(app, clock=interlink_clock)
    second = await interlink_app(app)
    assert first.app.clock is interlink_clock
    assert first.app is not second.app
    interlink_clock.advance(5)
    assert interlink_clock.monotonic() == 5


async def test_a_failing_test_still_stops_its_apps(interlink_app):
    t = await interlink_app(app)
    stopped.append(t)
    raise AssertionError("on purpose")


def test_and_it_was_stopped():
    assert stopped[-1].app._runtime is None
"""


def test_the_plugin_is_declared_as_a_pytest11_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"interlink": "interlink.testing.pytest_plugin"}


def test_its_fixtures_run_apps_and_stop_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the plugins named here: the run must not depend on what else is installed.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeini(INI)
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(*PLUGINS, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: on purpose*"])
    result.stdout.no_fnmatch_line("*Warning*")


def test_its_fixtures_are_listed_with_their_docs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeini(INI)
    result = pytester.runpytest_subprocess(*PLUGINS, "--fixtures")
    result.stdout.fnmatch_lines(["interlink_clock -- *", "*virtual clock*"], consecutive=True)
    result.stdout.fnmatch_lines(
        ["interlink_app -- *", "*returns a started TestApp*"], consecutive=True
    )
