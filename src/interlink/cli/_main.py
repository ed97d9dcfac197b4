"""``interlink run | call | publish | services | tail | dlq``."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from interlink._app import App
from interlink.cli._load import load_app
from interlink.cli._messaging import dlq, tail
from interlink.cli._runner import err
from interlink.cli._runner import run_async as _run

__all__ = ["cli", "main"]

DEFAULT_URL = "http://127.0.0.1:8000"

cli = typer.Typer(
    name="interlink",
    help="Run interlink services and talk to them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()


Url = Annotated[str, typer.Option("--url", help="Where the app serves HTTP.")]


def main() -> None:
    cli()


@cli.command()
def run(
    app_spec: Annotated[str, typer.Argument(metavar="MODULE:APP", help="e.g. examples.shop:app")],
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this service (repeatable).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run the app's services in this process until Ctrl-C or SIGTERM."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )

    async def serve() -> None:
        app = load_app(app_spec)
        changes: dict[str, Any] = {}
        if only:
            changes["only"] = only
        if host is not None:
            changes["host"] = host
        if port is not None:
            changes["port"] = port
        app = app.replace(**changes) if changes else app
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with app:
            _print_started(app)
            await stop.wait()
            err.print("[dim]stopping: draining in-flight work…[/]")

    _run(serve)


def _print_started(app: App) -> None:
    table = Table(title=f"interlink serving at {app.url}", title_justify="left")
    for column in ("service", "rpcs", "routes", "subscriptions"):
        table.add_column(column)
    for name in app.running_services:
        svc = app.services[name]
        table.add_row(
            f"{svc.name} {svc.version}",
            "\n".join(svc.rpcs),
            "\n".join(f"{m} {p}" for m, p in svc.routes),
            "\n".join(s.topic for s in svc.subscribers),
        )
    err.print(table)
    err.print(f"broker {app.runtime.broker.url} · registry {app.runtime.registry.url}")
    sys.stderr.flush()


@cli.command()
def call(
    target: Annotated[str, typer.Argument(metavar="SERVICE.METHOD")],
    payload: Annotated[str, typer.Argument(metavar="JSON")],
    url: Url = DEFAULT_URL,
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 10.0,
) -> None:
    """Call an RPC and print its JSON result."""

    from interlink.cli._remote import parse_json, remote_call

    async def go() -> Any:
        return await remote_call(url, target, parse_json(payload), timeout)

    result = _run(go)
    out.print_json(data=result)


@cli.command()
def publish(
    topic: Annotated[str, typer.Argument()],
    payload: Annotated[str, typer.Argument(metavar="JSON")],
    key: Annotated[str | None, typer.Option(help="Partition key (per-key ordering).")] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Publish an event through a running app."""
    from interlink.cli._remote import parse_json, post_publish

    _run(lambda: post_publish(url, topic, parse_json(payload), key))
    out.print(f"published to {topic}")


cli.command()(tail)
cli.add_typer(dlq, name="dlq")


@cli.command()
def services(url: Url = DEFAULT_URL) -> None:
    """List the services a running app serves and the instances its registry knows."""
    from interlink.cli._remote import fetch_services

    info = _run(lambda: fetch_services(url))
    table = Table(title=f"services at {url} (registry {info['registry']})", title_justify="left")
    for column in ("service", "version", "rpcs", "subscriptions", "instances"):
        table.add_column(column)
    registered = info.get("registered", {})
    for svc in info["services"]:
        table.add_row(
            svc["name"],
            svc["version"],
            ", ".join(r["name"] for r in svc["rpcs"]),
            ", ".join(s["topic"] for s in svc["subscriptions"]),
            "\n".join(i["url"] for i in registered.get(svc["name"], [])),
        )
    out.print(table)
