"""``Dashboard``: the collector, the broker and saga stores, and the page's HTTP server, as one
async resource. It listens on loopback unless told otherwise with ``public=True``."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Sequence
from types import TracebackType

import uvicorn

from interlink._errors import ConfigurationError
from interlink.dashboard._api import build_api
from interlink.dashboard._collector import Collector
from interlink.dashboard._operations import Operations, SagaSource
from interlink.discovery import registry_from_url

__all__ = ["Dashboard"]


class Dashboard:
    """``async with Dashboard(registry="embedded") as d: print(d.url)``.

    ``registry``: where the App's instances register (what the collector polls). ``broker``:
    the App's broker, for the dead letters (none: the panel lists no letters). ``sagas``: the
    saga stores to show. ``topics``: topics whose dead letters to list besides those the
    metrics and spans name. ``window``: seconds of spans behind every rate and percentile.
    ``connect_timeout``: the seconds the registry, and then the broker and saga stores, each have
    to answer at start (a NATS client retries an unreachable server forever); past it, entering
    raises ``ConfigurationError``.
    """

    def __init__(
        self,
        *,
        registry: str,
        broker: str | None = None,
        sagas: Sequence[SagaSource] = (),
        topics: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        public: bool = False,
        window: float = 60.0,
        interval: float = 1.0,
        directory: str = ".interlink",
        connect_timeout: float = 10.0,
    ) -> None:
        if not public and not is_loopback(host):
            raise ConfigurationError(
                f"the dashboard listens on loopback only; {host!r} needs public=True "
                "(on the command line: pass --host explicitly)"
            )
        if window <= 0 or interval <= 0 or connect_timeout <= 0:
            raise ConfigurationError("window, interval and connect_timeout are positive seconds")
        self.registry_url, self.connect_timeout = registry, connect_timeout
        self.host, self.port = host, port
        self.window, self.interval = window, interval
        self.topics = tuple(topics)
        self._registry = registry_from_url(registry, directory=directory)
        self._operations = Operations(broker, tuple(sagas))
        self._stack = contextlib.AsyncExitStack()
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self.collector: Collector | None = None

    @property
    def url(self) -> str:
        if self._socket is None:
            raise RuntimeError("the dashboard is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._socket.getsockname()[1]}"

    async def __aenter__(self) -> Dashboard:
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(self._registry.close)
            await self._bounded(self._registry.connect(), f"the registry {self.registry_url}")
            collector = Collector(self._registry, interval=self.interval)
            self.collector = await stack.enter_async_context(collector)
            where = f"the broker {self._operations.broker_url} or the saga stores"
            await self._bounded(stack.enter_async_context(self._operations), where)
            await self._serve(collector)
            stack.push_async_callback(self._stop_serving)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def _bounded(self, connecting: Awaitable[object], what: str) -> None:
        try:
            async with asyncio.timeout(self.connect_timeout):
                await connecting
        except TimeoutError:
            raise ConfigurationError(
                f"the dashboard could not reach {what} within {self.connect_timeout} s"
            ) from None

    async def _serve(self, collector: Collector) -> None:
        app = build_api(collector, self._operations, window=self.window, topics=self.topics)
        try:
            self._socket = socket.create_server((self.host, self.port))
        except OSError as exc:
            raise ConfigurationError(
                f"the dashboard cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        config = uvicorn.Config(
            app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=2
        )
        config.load()
        server = self._server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        # startup + main_loop, not serve(): serve() would take SIGINT and SIGTERM from the
        # command that runs the dashboard, which stops it in its own order.
        await server.startup(sockets=[self._socket])
        self._task = asyncio.create_task(server.main_loop(), name="dashboard ticker")

    async def _stop_serving(self) -> None:
        assert self._server is not None
        assert self._socket is not None
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        await self._server.shutdown()
        self._socket.close()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
