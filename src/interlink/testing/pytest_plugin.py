"""pytest fixtures for testing interlink services, loaded through the ``pytest11`` entry point
when interlink is installed (or with ``-p interlink.testing.pytest_plugin``).

``interlink_clock``
    A fresh :class:`~interlink.testing.FakeClock`: time moves only when the test advances it.
``interlink_app``
    A factory: ``t = await interlink_app(app, **overrides)`` runs ``app`` as a started
    :class:`~interlink.testing.TestApp` (in memory, no sockets) and stops it after the test,
    whatever the test did. ``overrides`` are App settings, e.g. ``clock=interlink_clock``.

::

    async def test_place_order(interlink_app, interlink_clock):
        t = await interlink_app(app, clock=interlink_clock)
        accepted = await t.call(place, PlaceOrder(customer="ada", sku="apple", qty=1))
        await t.drain()
        assert t.published("orders.placed")

``interlink_app`` is an asyncio fixture: it needs pytest-asyncio (``asyncio_mode = "auto"``,
or ``@pytest.mark.asyncio`` on the test).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

from interlink.testing._app import TestApp
from interlink.testing._clock import FakeClock

if TYPE_CHECKING:
    from interlink._app import App

__all__ = ["interlink_app", "interlink_clock"]

StartApp = Callable[..., Awaitable[TestApp]]


@pytest.fixture
def interlink_clock() -> FakeClock:
    """A fresh virtual clock (``advance()`` moves it; nothing sleeps for real)."""
    return FakeClock()


def _needs_pytest_asyncio(fn: Callable[..., Any]) -> Any:
    @pytest.fixture(name=fn.__name__)
    def missing() -> None:
        raise pytest.UsageError(
            f"the {fn.__name__} fixture needs pytest-asyncio: pip install pytest-asyncio"
        )

    return missing


def _asyncio_fixture() -> Callable[[Callable[..., Any]], Any]:
    try:
        from pytest_asyncio import fixture
    except ImportError:  # pragma: no cover - where pytest-asyncio is not installed
        return _needs_pytest_asyncio
    return fixture


@_asyncio_fixture()
async def interlink_app() -> AsyncIterator[StartApp]:
    """A factory: ``await interlink_app(app, **overrides)`` returns a started TestApp."""
    running: list[TestApp] = []

    async def start(app: App, **overrides: Any) -> TestApp:
        test_app = TestApp(app, **overrides)
        await test_app.__aenter__()
        running.append(test_app)
        return test_app

    try:
        yield start
    finally:
        # Stopped in reverse order of starting, each whatever happened to the others.
        while running:
            await running.pop().__aexit__(None, None, None)
