"""``interlink run | up | asyncapi | call | publish | services | tail | replay | dlq | sagas |
registrar | doctor | gateway | dashboard | certs | proto``."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from interlink._app import App
from interlink.broker._urls import redacted_url
from interlink.cli._certs import certs
from interlink.cli._dashboard import dashboard
from interlink.cli._doctor import doctor
from interlink.cli._load import CliError, load_app
from interlink.cli._messaging import dlq, tail
from interlink.cli._proto import proto
from interlink.cli._replay import replay
from interlink.cli._runner import err
from interlink.cli._runner import run_async as _run
from interlink.cli._sagas import sagas

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


def main() -> None:
    cli()


@cli.command()
def run(
    app_spec: Annotated[str, typer.Argument(metavar="MODULE:APP", help="e.g. examples.shop:app")],
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this service (repeatable).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (0: any free one).")] = None,
    broker: Annotated[str | None, typer.Option(help="Override the app's broker URL.")] = None,
    registry: Annotated[str | None, typer.Option(help="Override the app's registry URL.")] = None,
    directory: Annotated[str | None, typer.Option("--dir", help="Local state directory.")] = None,
    ttl: Annotated[float | None, typer.Option(help="Registration TTL in seconds.")] = None,
) -> None:
    """Run the app's services in this process until Ctrl-C or SIGTERM."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    overrides: dict[str, Any] = {
        "only": only or None,
        "host": host,
        "port": port,
        "broker": broker,
        "registry": registry,
        "directory": directory,
        "registration_ttl": ttl,
    }
    changes = {key: value for key, value in overrides.items() if value is not None}

    async def serve() -> None:
        app = load_app(app_spec)
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


@cli.command()
def up(
    app_spec: Annotated[str, typer.Argument(metavar="MODULE:APP", help="e.g. examples.shop:app")],
    replicas: Annotated[
        list[str] | None, typer.Option("--replicas", help="SERVICE=N (repeatable).")
    ] = None,
    directory: Annotated[str, typer.Option("--dir", help="Local state directory.")] = ".interlink",
    ttl: Annotated[float, typer.Option(help="Registration TTL in seconds.")] = 10.0,
    broker: Annotated[
        str,
        typer.Option(
            help="The services' broker: 'embedded', or nats:// redis:// amqp:// (the registry "
            "stays embedded)."
        ),
    ] = "embedded",
    dashboard_port: Annotated[
        int, typer.Option(help="The dashboard's port (taken: any free one).")
    ] = 8484,
    no_dashboard: Annotated[
        bool, typer.Option("--no-dashboard", help="Start no dashboard (and no telemetry).")
    ] = False,
) -> None:
    """Run every service in its own process on the embedded broker and registry, plus the
    dashboard (its URL is printed; the services report traces and metrics to it)."""
    from interlink.cli._up import supervise

    board = None if no_dashboard else dashboard_port
    _run(lambda: supervise(app_spec, replicas or [], directory, ttl, broker, board))


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
    broker, registry = app.runtime.broker.url, app.runtime.registry.url
    err.print(f"broker {redacted_url(broker)} · registry {redacted_url(registry)}")
    sys.stderr.flush()


@cli.command()
def asyncapi(
    app_spec: Annotated[str, typer.Argument(metavar="MODULE:APP", help="e.g. examples.shop:app")],
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Describe only this service (repeatable).")
    ] = None,
) -> None:
    """Print the AsyncAPI 3.0 document of the app's events (what GET /asyncapi.json serves)."""
    from interlink._asyncapi import asyncapi_document

    try:
        app = load_app(app_spec)
        names = only or list(app.services)
        unknown = sorted(set(names) - set(app.services))
        if unknown:
            raise CliError(f"no service {', '.join(unknown)} in {app_spec}", 2)
    except CliError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(exc.code) from None
    document = asyncapi_document(app.name, app.version, [app.services[n] for n in names])
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


@cli.command()
def call(
    target: Annotated[str, typer.Argument(metavar="SERVICE.METHOD")],
    payload: Annotated[str, typer.Argument(metavar="JSON")],
    url: Annotated[str | None, typer.Option("--url", help="Call this address directly.")] = None,
    directory: Annotated[str, typer.Option("--dir", help="Local state directory.")] = ".interlink",
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 10.0,
) -> None:
    """Call an RPC and print its JSON result.

    Without --url: through the embedded registry when one is running here (interlink up),
    else at http://127.0.0.1:8000.
    """
    from interlink.cli._remote import embedded_registry, parse_json, registry_call, remote_call

    async def go() -> Any:
        body = parse_json(payload)
        registry = None if url is not None else embedded_registry(directory)
        if registry is not None:
            return await registry_call(registry, target, body, timeout)
        return await remote_call(url or DEFAULT_URL, target, body, timeout)

    result = _run(go)
    out.print_json(data=result)


@cli.command()
def publish(
    topic: Annotated[str, typer.Argument()],
    payload: Annotated[str, typer.Argument(metavar="JSON")],
    key: Annotated[str | None, typer.Option(help="Partition key (per-key ordering).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Publish through this app.")] = None,
    directory: Annotated[str, typer.Option("--dir", help="Local state directory.")] = ".interlink",
) -> None:
    """Publish an event: to the embedded broker when one is running here (interlink up), else
    through the app at http://127.0.0.1:8000."""
    from interlink.cli._remote import broker_publish, embedded_registry, parse_json, post_publish

    async def go() -> None:
        body = parse_json(payload)
        broker = None if url is not None else embedded_registry(directory)
        if broker is not None:
            await broker_publish(broker, topic, body, key)
        else:
            await post_publish(url or DEFAULT_URL, topic, body, key)

    _run(go)
    out.print(f"published to {topic}")


@cli.command()
def registrar(
    registry: Annotated[str, typer.Option(help="The registry to watch over.")] = "embedded",
    directory: Annotated[str, typer.Option("--dir", help="Local state directory.")] = ".interlink",
    mode: Annotated[str, typer.Option(help="http (GET /health/ready) or tcp.")] = "http",
    interval: Annotated[float, typer.Option(help="Seconds between probe rounds.")] = 5.0,
    passing_after: Annotated[int, typer.Option(help="Good probes before passing.")] = 1,
    critical_after: Annotated[int, typer.Option(help="Bad probes before critical.")] = 3,
    deregister_after: Annotated[
        float, typer.Option(help="Remove an instance critical this many seconds.")
    ] = 60.0,
) -> None:
    """Probe every registered instance and keep its health in the registry (third-party
    registration), until Ctrl-C or SIGTERM."""
    from interlink.discovery import registry_from_url
    from interlink.discovery._registrar import ProbeSettings, Registrar

    if mode not in ("http", "tcp"):
        raise typer.BadParameter("mode is http or tcp")
    settings = ProbeSettings(
        mode="tcp" if mode == "tcp" else "http",
        interval=interval,
        success_before_passing=passing_after,
        failures_before_critical=critical_after,
        deregister_critical_after=deregister_after,
        ttl=max(30.0, interval * 6),
    )

    async def watch_over() -> None:
        backend = registry_from_url(registry, directory=directory)
        if registry == "embedded":
            from interlink.cli._remote import embedded_registry

            running = embedded_registry(directory)
            if running is None:
                raise CliError(f"no embedded registry is running for {directory}")
            backend = registry_from_url(running)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await backend.connect()
        try:
            async with Registrar(backend, settings=settings):
                err.print(f"registrar: probing every {interval}s over {mode}; Ctrl-C stops")
                await stop.wait()
        finally:
            await backend.close()

    _run(watch_over)


cli.command()(tail)
cli.command()(replay)
cli.add_typer(dlq, name="dlq")
cli.add_typer(sagas, name="sagas")
cli.command()(dashboard)


@cli.command()
def services(
    url: Annotated[str | None, typer.Option("--url", help="Ask this app directly.")] = None,
    directory: Annotated[str, typer.Option("--dir", help="Local state directory.")] = ".interlink",
) -> None:
    """List services and their instances: health, version and address.

    Without --url: from the embedded registry when one is running here, else the app at
    http://127.0.0.1:8000.
    """
    from interlink.cli._remote import embedded_registry, fetch_services, registry_services

    registry = None if url is not None else embedded_registry(directory)
    if registry is not None:
        listing = _run(lambda: registry_services(registry))
        table = Table(title=f"registry {registry}", title_justify="left")
        for column in ("service", "instance", "health", "version", "address"):
            table.add_column(column)
        for name, instances in sorted(listing.items()):
            for i in instances:
                table.add_row(name, i["id"], i["health"], i["version"], i["url"])
        out.print(table)
        return
    target = url or DEFAULT_URL
    info = _run(lambda: fetch_services(target))
    table = Table(title=f"services at {target} (registry {info['registry']})", title_justify="left")
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


cli.command()(doctor)
cli.command()(proto)


def _gateway_command() -> None:
    from interlink.cli._gateway import gateway

    cli.command(name="gateway")(gateway)


_gateway_command()

cli.add_typer(certs, name="certs")
