"""``interlink up``: every service in its own process on the embedded broker and registry
(``--broker URL``: on that broker instead; the registry stays embedded).

Like ``docker compose up`` for one App: colored per-process log prefixes, a crashed process is
restarted with backoff, and Ctrl-C or SIGTERM stops everything in order (services first, each
draining, then the embedded NATS server).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import signal
import socket
import sys
from dataclasses import dataclass, field

from rich.console import Console
from rich.text import Text

from interlink.broker._urls import redacted_url
from interlink.cli._load import CliError, load_app
from interlink.embedded import EmbeddedNats

__all__ = ["parse_replicas", "supervise"]

_COLORS = (
    "cyan",
    "magenta",
    "green",
    "yellow",
    "blue",
    "bright_red",
    "bright_cyan",
    "bright_green",
)
_STOP_GRACE = 15.0
_MAX_BACKOFF = 30.0
_STABLE = 30.0  # a process up this long has its restart backoff reset

out = Console(highlight=False, soft_wrap=True)


def parse_replicas(specs: list[str], services: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(services, 1)
    for spec in specs:
        name, sep, number = spec.partition("=")
        if not sep or not number.isdigit() or int(number) < 1:
            raise CliError(f"--replicas takes SERVICE=N with N >= 1, not {spec!r}", 2)
        if name not in counts:
            raise CliError(f"--replicas names unknown service {name!r}; the app has {services}", 2)
        counts[name] = int(number)
    return counts


@dataclass
class _Child:
    label: str
    argv: list[str]
    env: dict[str, str]
    color: str
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    pumps: list[asyncio.Task[None]] = field(default_factory=list)


async def supervise(
    app_spec: str,
    replicas: list[str],
    directory: str,
    ttl: float,
    broker: str = "embedded",
    dashboard: int | None = None,
) -> None:
    """``broker``: the services' broker; the embedded server runs either way (the registry).
    ``dashboard``: the dashboard's port (None: no dashboard, and no telemetry switched on)."""
    if broker.startswith("memory"):
        raise CliError("a memory:// broker lives inside one process; services here run in many", 2)
    app = load_app(app_spec)
    counts = parse_replicas(replicas, app.running_services)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with EmbeddedNats(directory) as url:
        _say("interlink", "bold", f"embedded NATS JetStream at {url} (store: {directory})")
        if broker != "embedded":
            _say("interlink", "bold", f"services use the broker at {redacted_url(broker)}")
        children = _children(app_spec, counts, directory, ttl, broker, dashboard is not None)
        children += _gateway_child(app_spec, directory)
        async with contextlib.AsyncExitStack() as beside:
            if dashboard is not None:
                from interlink.cli._dashboard import beside_up

                show = functools.partial(_say, "dashboard", "bold")
                await beside.enter_async_context(beside_up(app, url, broker, dashboard, show))
            keepers = [asyncio.create_task(_keep(child, stop)) for child in children]
            await stop.wait()
            _say("interlink", "bold", "stopping: every service drains, then the broker stops")
            await asyncio.gather(*keepers)


def _children(
    app_spec: str, counts: dict[str, int], directory: str, ttl: float, broker: str, observe: bool
) -> list[_Child]:
    children = []
    for index, (service, count) in enumerate(counts.items()):
        for replica in range(count):
            argv = [
                sys.executable,
                "-m",
                "interlink",
                "run",
                app_spec,
                "--only",
                service,
                "--port",
                "0",
                "--broker",
                broker,
                "--registry",
                "embedded",
                "--dir",
                directory,
                "--ttl",
                str(ttl),
            ]
            env = {**os.environ, "INTERLINK_REPLICA": str(replica), "INTERLINK_SERVICE": service}
            if observe:  # what the dashboard reads; a variable already set is left as it is
                from interlink.cli._dashboard import OBSERVE_ENV

                env = {**OBSERVE_ENV, **env}
            label = service if count == 1 else f"{service}.{replica}"
            children.append(_Child(label, argv, env, _COLORS[index % len(_COLORS)]))
    return children


def _gateway_child(app_spec: str, directory: str) -> list[_Child]:
    """The module's ``gateway`` (a Gateway), on the embedded registry, when it has one."""
    from interlink.cli._gateway import GATEWAY_PORT, module_gateway

    spec = module_gateway(app_spec)
    if spec is None:
        return []
    setting = os.environ.get("INTERLINK_GATEWAY_PORT", str(GATEWAY_PORT))
    if not setting.isdigit() or int(setting) > 65535:
        raise CliError(f"INTERLINK_GATEWAY_PORT must be a port number, not {setting!r}", 2)
    wanted = int(setting)
    port = _free_port_from(wanted)
    if wanted and port != wanted:
        _say("gateway", "bright_blue", f"port {wanted} is taken; listening on {port} instead")
    argv = [sys.executable, "-m", "interlink", "gateway", spec, "--port", str(port)]
    argv += ["--registry", "embedded", "--dir", directory]
    # INTERLINK_DIR: where the gateway finds the broker; INTERLINK_GATEWAY_PORT: its real port
    # (gateway code that reaches itself, like the shop's key-set URL, reads it)
    env = {**os.environ, "INTERLINK_DIR": directory, "INTERLINK_GATEWAY_PORT": str(port)}
    return [_Child("gateway", argv, env, "bright_blue")]


def _free_port_from(port: int) -> int:
    """``port`` when 127.0.0.1 can bind it now, else a free one the system picks (kept for
    every restart of the gateway)."""
    from interlink.cli._dashboard import free_or_any

    if port and free_or_any("127.0.0.1", port) == port:
        return port
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


async def _keep(child: _Child, stop: asyncio.Event) -> None:
    """Run one process; restart it with backoff when it dies, until told to stop."""
    backoff = 1.0
    while not stop.is_set():
        started = asyncio.get_running_loop().time()
        await _spawn(child)
        assert child.process is not None
        exited = asyncio.ensure_future(child.process.wait())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait((exited, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not exited.done():
            await _terminate(child)
            return
        await asyncio.gather(*child.pumps)
        if stop.is_set():
            return
        ran = asyncio.get_running_loop().time() - started
        backoff = 1.0 if ran > _STABLE else min(backoff * 2, _MAX_BACKOFF)
        child.restarts += 1
        _say(
            child.label,
            child.color,
            f"exited with {exited.result()}; restart #{child.restarts} in {backoff:.0f}s",
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)


async def _spawn(child: _Child) -> None:
    child.process = await asyncio.create_subprocess_exec(
        *child.argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=child.env,
        start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
        preexec_fn=_die_with_parent,
    )
    assert child.process.stdout is not None
    child.pumps = [asyncio.create_task(_pump(child, child.process.stdout))]


async def _pump(child: _Child, stream: asyncio.StreamReader) -> None:
    while line := await stream.readline():
        _say(child.label, child.color, line.decode(errors="replace").rstrip())


async def _terminate(child: _Child) -> None:
    process = child.process
    if process is None or process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), _STOP_GRACE)
    except TimeoutError:
        process.kill()
        await process.wait()
    await asyncio.gather(*child.pumps)


def _say(label: str, color: str, message: str) -> None:
    out.print(Text(f"{label:>14} | ", style=color) + Text(message))


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the supervisor dies, so nothing is orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
