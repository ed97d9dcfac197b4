"""``interlink dashboard``, and the dashboard ``interlink up`` starts beside its services."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import typer

from interlink._app import App
from interlink.cli._load import CliError, load_app
from interlink.cli._runner import err, run_async
from interlink.dashboard import Dashboard, SagaSource

__all__ = ["DEFAULT_PORT", "OBSERVE_ENV", "beside_up", "dashboard", "dashboard_for"]

DEFAULT_PORT = 8484
OBSERVE_ENV = {
    "INTERLINK_TRACING": "1",
    "INTERLINK_METRICS": "1",
    "INTERLINK_RECENT_SPANS": "2000",
}
"""What ``interlink up`` switches on in its services, so the dashboard has data to show."""


def saga_sources(app: App) -> list[SagaSource]:
    return [SagaSource(s.database.url, s.table) for s in app.saga_definitions]


def dashboard_for(
    app: App | None, registry: str, broker: str | None, host: str | None, port: int
) -> Dashboard:
    """A dashboard over ``registry`` (a server URL); ``host`` given means a deliberate bind."""
    return Dashboard(
        registry=registry,
        broker=broker,
        sagas=saga_sources(app) if app is not None else (),
        host=host or "127.0.0.1",
        port=port,
        public=host is not None,
    )


def free_or_any(host: str, port: int) -> int:
    """``port`` when it can be bound on ``host`` now, else 0 (any free one)."""
    try:
        with socket.create_server((host, port)):
            return port
    except OSError:
        return 0


@contextlib.asynccontextmanager
async def beside_up(
    app: App, embedded: str, broker: str, port: int, say: Callable[[str], None]
) -> AsyncIterator[None]:
    """The dashboard ``interlink up`` runs over its embedded registry (port taken: any)."""
    via = embedded if broker == "embedded" else broker
    board = dashboard_for(app, embedded, via, None, free_or_any("127.0.0.1", port))
    async with board:
        say(f"dashboard at {board.url}")
        yield


def addresses(
    app: App | None, registry: str | None, broker: str | None, directory: str
) -> tuple[str, str | None]:
    from interlink.cli._remote import embedded_registry

    running = embedded_registry(directory)
    configured = app.registry if app is not None and isinstance(app.registry, str) else None
    if configured is None or configured == "embedded" or configured.startswith("memory"):
        configured = running  # in-process or embedded: what `interlink up` runs here, if any
    registry = registry or configured
    if registry is None or registry.startswith("memory"):
        raise CliError(
            "no registry to watch: start the app with `interlink up`, or pass --registry URL", 2
        )
    if broker is None and app is not None and isinstance(app.broker, str):
        broker = None if app.broker.startswith("memory") else app.broker
    if broker in (None, "embedded"):
        broker = running
    return registry, broker


def dashboard(
    app_spec: Annotated[
        str | None, typer.Argument(metavar="[MODULE:APP]", help="Its registry, broker and sagas.")
    ] = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORT,
    host: Annotated[
        str | None, typer.Option(help="Interface (default 127.0.0.1; given: any, deliberately).")
    ] = None,
    registry: Annotated[str | None, typer.Option(help="The registry to watch.")] = None,
    broker: Annotated[str | None, typer.Option(help="The broker (dead letters).")] = None,
    directory: Annotated[str, typer.Option("--dir", help="Local state directory.")] = ".interlink",
) -> None:
    """Serve the live dashboard of the running services until Ctrl-C or SIGTERM.

    Without --registry: the embedded registry `interlink up` runs here, else the app's.
    """

    async def serve() -> None:
        app = load_app(app_spec) if app_spec else None
        where, via = addresses(app, registry, broker, directory)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with dashboard_for(app, where, via, host, port) as board:
            err.print(f"dashboard at {board.url}", highlight=False)
            await stop.wait()

    run_async(serve)
