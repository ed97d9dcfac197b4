"""``interlink gateway MODULE:gateway``: serve a Gateway on uvicorn until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import socket
import sys
from typing import Annotated

import typer

from interlink.cli._load import CliError
from interlink.cli._runner import err
from interlink.cli._runner import run_async as _run
from interlink.gateway import Gateway

__all__ = ["GATEWAY_PORT", "gateway", "load_gateway", "module_gateway"]

GATEWAY_PORT = 8080


def load_gateway(spec: str) -> Gateway:
    """``MODULE:attribute`` naming a Gateway, or a ``.toml`` file for ``Gateway.from_toml``."""
    if spec.endswith(".toml"):
        return Gateway.from_toml(spec)
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise CliError(f"expected MODULE:GATEWAY or a .toml file, got {spec!r}", 2)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    found = getattr(importlib.import_module(module_name), attribute, None)
    if not isinstance(found, Gateway):
        raise CliError(f"{spec} is not an interlink.gateway.Gateway", 2)
    return found


def module_gateway(app_spec: str) -> str | None:
    """``MODULE:gateway`` when the module of ``MODULE:app`` defines a Gateway named
    ``gateway`` (what ``interlink up`` starts beside the services); else None."""
    module_name = app_spec.partition(":")[0]
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    return (
        f"{module_name}:gateway" if isinstance(getattr(module, "gateway", None), Gateway) else None
    )


def gateway(
    spec: Annotated[
        str, typer.Argument(metavar="MODULE:GATEWAY", help="e.g. examples.shop:gateway, or a .toml")
    ],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = GATEWAY_PORT,
    registry: Annotated[
        str | None, typer.Option(help="Override the gateway's registry URL.")
    ] = None,
    directory: Annotated[str | None, typer.Option("--dir", help="Local state directory.")] = None,
) -> None:
    """Run an API gateway: its routes reach the services through the registry."""
    import uvicorn

    async def serve() -> None:
        edge = load_gateway(spec)
        if registry is not None or directory is not None:
            edge = edge.using(registry=registry or edge.registry_url, directory=directory)
        listener = _listen(host, port)
        bound = listener.getsockname()[1]
        config = uvicorn.Config(
            edge,
            host=host,
            port=bound,
            lifespan="on",
            proxy_headers=False,  # the gateway sets X-Forwarded-* itself
            log_level="warning",
            http="httptools",
        )
        server = uvicorn.Server(config)
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # stop cleanly, exit 0
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        err.print(
            f"[bold]interlink gateway[/] at http://{host}:{bound} ({len(edge.routes)} routes)"
        )
        with listener:
            await server.serve(sockets=[listener])

    _run(serve)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is announced (``port`` 0: any free one)."""
    try:
        return socket.create_server((host, port), backlog=2048)
    except OSError as exc:
        raise CliError(f"the gateway cannot listen on {host}:{port}: {exc.strerror}") from None
