"""``EventFeed``: push broker events to WebSocket clients, filtered by who they are."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from interlink._errors import DefinitionError
from interlink.broker import Broker, broker_from_url
from interlink.gateway._feed_connection import DISCONNECTED, FeedConnection
from interlink.gateway._feed_hub import Allow, FeedStats, TopicHub
from interlink.gateway._feed_session import FeedSession
from interlink.gateway._identity import identity_of
from interlink.gateway._lifespan import serve_lifespan

if TYPE_CHECKING:
    from interlink._app import App

__all__ = ["EventFeed", "allow_all"]


def allow_all(identity: object, event: object) -> bool:
    """An ``allow`` predicate for public topics: every connection sees every event."""
    return True


class EventFeed:
    """An ASGI WebSocket app: clients subscribe to topics and get the broker's events pushed.

    ``broker`` is a connected :class:`~interlink.broker.Broker`, a running ``App`` (its
    broker is used), or a URL (the feed connects on start and closes on stop; ``directory``
    is where an ``embedded`` broker lives). ``topics`` maps each topic to its ``allow`` predicate, or lists topic
    names that all use ``allow``. Start it with ``async with feed:`` (or let an ASGI server
    send it the lifespan events): it subscribes to each topic once, as a private listener.
    """

    def __init__(
        self,
        *,
        broker: str | Broker | App,
        topics: Mapping[str, Allow] | Collection[str],
        allow: Allow | None = None,
        require_identity: bool = True,
        heartbeat: float | timedelta | None = 15.0,
        idle_timeout: float | timedelta | None = 60.0,
        max_queue: int = 64,
        max_subscriptions: int = 32,
        max_connections: int = 10_000,
        max_frame: int = 4096,
        close_timeout: float | timedelta = 5.0,
        max_in_flight: int = 256,
        directory: str = ".interlink",
    ) -> None:
        self._source = broker
        self._directory = directory
        self._owned: Broker | None = None
        self._hub = TopicHub(_predicates(topics, allow), max_in_flight=max_in_flight)
        if max_queue < 1 or max_subscriptions < 1 or max_connections < 1:
            raise DefinitionError("max_queue, max_subscriptions and max_connections must be ≥ 1")
        self.require_identity = require_identity
        self.heartbeat = _seconds(heartbeat)
        self.idle_timeout = _seconds(idle_timeout)
        self.max_queue = max_queue
        self.max_subscriptions = max_subscriptions
        self.max_connections = max_connections
        self.max_frame = max_frame
        self.close_timeout = _seconds(close_timeout) or 0.0
        self._running = False
        self._empty = asyncio.Event()
        self._empty.set()

    @property
    def topics(self) -> list[str]:
        return list(self._hub.allow)

    def stats(self) -> FeedStats:
        return self._hub.stats()

    async def __aenter__(self) -> EventFeed:
        if self._running:
            raise RuntimeError("this EventFeed is already running")
        source = self._source
        if isinstance(source, str):
            broker = self._owned = broker_from_url(source, directory=self._directory)
            await broker.connect()
        else:
            # An App first: a structural Broker check would read the App's properties (url
            # raises on an App that serves no HTTP).
            from interlink._app import App

            broker = source.runtime.broker if isinstance(source, App) else source
        try:
            await self._hub.start(broker)
        except BaseException:
            await self._close_owned()
            raise
        self._running = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._running:
            return
        self._running = False
        for connection in list(self._hub.connections):
            connection.close(1001, "the feed is stopping")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.close_timeout + 1.0):
                await self._empty.wait()
        await self._hub.stop()
        await self._close_owned()

    async def _close_owned(self) -> None:
        owned, self._owned = self._owned, None
        if owned is not None:
            await owned.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(self, receive, send)
        elif scope["type"] == "websocket":
            await self._connect(WebSocket(scope, receive, send))
        else:
            body = {"error": {"type": "UpgradeRequired", "message": "WebSocket only"}}
            await JSONResponse(body, status_code=426)(scope, receive, send)

    async def _connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        identity = identity_of(websocket.scope)
        refusal = self._refusal(identity is None)
        if refusal is not None:
            await websocket.close(*refusal)
            return
        now = asyncio.get_running_loop().time()
        connection = FeedConnection(identity, max_queue=self.max_queue, now=now)
        self._hub.connections.add(connection)
        self._empty.clear()
        try:
            await FeedSession(self, self._hub, websocket, connection).run()
        finally:
            self._hub.forget(connection)
            if not self._hub.connections:
                self._empty.set()
        await self._close(websocket, connection)

    def _refusal(self, anonymous: bool) -> tuple[int, str] | None:
        if not self._running:
            return 1013, "the feed is not running"
        if self.require_identity and anonymous:
            return 4401, "authentication required"
        if len(self._hub.connections) >= self.max_connections:
            return 1013, f"too many connections (at most {self.max_connections})"
        return None

    async def _close(self, websocket: WebSocket, connection: FeedConnection) -> None:
        if connection.close_code in (None, DISCONNECTED):
            return
        # A client that stopped reading may never take the close frame: give up after a while.
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError, RuntimeError):
            async with asyncio.timeout(self.close_timeout):
                await websocket.close(connection.close_code, connection.close_reason)


def _predicates(
    topics: Mapping[str, Allow] | Collection[str], allow: Allow | None
) -> dict[str, Allow]:
    if isinstance(topics, Mapping):
        if allow is not None:
            raise DefinitionError("give each topic its predicate, or `allow` for a list of topics")
        return dict(topics)
    if isinstance(topics, str):
        raise DefinitionError("topics is a list of names (or a mapping), not one string")
    if allow is None:
        raise DefinitionError(
            "who may see these topics' events? pass allow=... (allow_all for public topics)"
        )
    return dict.fromkeys(topics, allow)


def _seconds(value: float | timedelta | None) -> float | None:
    return value.total_seconds() if isinstance(value, timedelta) else value
