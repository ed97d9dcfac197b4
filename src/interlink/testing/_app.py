"""``TestApp``: run an App in memory and drive it without sockets, through the real codec."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from interlink._envelope import Envelope
from interlink.broker import MemoryBroker, StoredMessage
from interlink.discovery import MemoryRegistry

if TYPE_CHECKING:
    from interlink._app import App

__all__ = ["TestApp"]


class TestApp:
    """The role of Starlette's ``TestClient`` and FastStream's ``TestBroker``.

    ::

        async with TestApp(app) as t:
            accepted = await t.call(place, PlaceOrder(...))
            await t.drain()                      # every event handled, retries included
            assert t.published("orders.placed")

    Every service of ``app`` runs in this process on a fresh in-memory broker and registry,
    with no HTTP server. Calls, events and errors take exactly the production path: messages are
    encoded to bytes, validated, and decoded on the other side.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: App, **overrides: Any) -> None:
        self.broker = MemoryBroker()
        self.registry = MemoryRegistry()
        settings: dict[str, Any] = {
            "broker": self.broker,
            "registry": self.registry,
            "serve_http": False,
        }
        settings.update(overrides)
        self.app = app.replace(**settings)
        # The App's own (typed, overloaded) methods: a TestApp calls and publishes exactly as
        # production code does.
        self.call = self.app.call
        self.publish = self.app.publish

    async def __aenter__(self) -> TestApp:
        await self.broker.connect()
        try:
            await self.app.__aenter__()
        except BaseException:
            await self.broker.close()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self.app.__aexit__(*exc_info)
        finally:
            await self.broker.close()

    async def drain(self, timeout: float | timedelta = 5.0) -> None:
        """Wait until every published message has been acknowledged or dead-lettered."""
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        try:
            async with asyncio.timeout(seconds):
                await self.broker.wait_idle()
        except TimeoutError:
            raise AssertionError(
                f"{self.broker.outstanding} deliveries still unsettled after {seconds}s"
            ) from None

    def published(self, topic: str) -> list[Any]:
        """The payloads published to ``topic`` (decoded JSON), oldest first."""
        return [msgspec.json.decode(bytes(e.data)) for e in self.envelopes(topic)]

    def envelopes(self, topic: str) -> list[Envelope]:
        return [Envelope.from_bytes(m.body) for m in self.broker.messages(topic)]

    def dead_letters(self, topic: str) -> list[StoredMessage]:
        """Messages dead-lettered from ``topic`` (default dead-letter topic), with headers."""
        return self.broker.messages(f"{topic}.dlq")
