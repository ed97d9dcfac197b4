"""``TestApp``: run an App in memory and drive it without sockets, through the real codec."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, overload

import msgspec

from interlink._envelope import Envelope
from interlink.broker import MemoryBroker, StoredMessage
from interlink.discovery import MemoryRegistry

if TYPE_CHECKING:
    from interlink._app import App
    from interlink._handlers import Rpc
    from interlink.resilience import Policy

__all__ = ["TestApp"]

T = TypeVar("T")
ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")


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

    @overload
    async def call(
        self,
        target: Rpc[ReqT, RespT],
        message: ReqT,
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> RespT: ...

    @overload
    async def call(
        self,
        target: str,
        message: Any,
        *,
        returns: type[T],
        timeout: float | None = None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> T: ...

    @overload
    async def call(
        self,
        target: str,
        message: Any,
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> Any: ...

    async def call(
        self,
        target: Any,
        message: Any,
        *,
        returns: Any = None,
        timeout: float | None = None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> Any:
        return await self.app.call(
            target, message, returns=returns, timeout=timeout, policy=policy, key=key
        )

    async def publish(self, topic: str, message: Any, *, key: str | None = None) -> None:
        await self.app.publish(topic, message, key=key)

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
