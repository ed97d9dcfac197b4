"""Interlink RPC over HTTP against the hand-written equivalent, in one run.

Two servers run in child processes of this script (``--serve raw`` and ``--serve interlink``),
each under uvicorn with uvloop and httptools, access log off, on 127.0.0.1:

* raw: a bare Starlette app, ``POST /echo`` validates the body with a pydantic model and
  answers ``model.model_dump_json()``;
* interlink: ``il.App([bench])`` whose ``bench.echo`` RPC returns its request;
* observed: the same App with tracing and metrics on (``il.Observe(tracing=True,
  metrics=True, exporter=NullExporter())``: every span goes through the SDK's
  BatchSpanProcessor to an exporter that drops it, so the cost measured is the SDK's and ours).

This process (uvloop) drives both with the same payload model:

* raw: one default ``aiohttp.ClientSession`` posts ``model.model_dump_json()`` and validates
  the answer with ``Payload.model_validate_json``;
* interlink: ``client_app.call("bench.echo", payload, returns=Payload)`` on a client-only App
  (``serve_http=False``) that finds ``bench`` through a ``static:`` registry. That is the full
  ``ctx.call`` path: discovery, the envelope's headers, the App's default call policy
  (``--no-policy`` turns it off) and the pooled aiohttp session;
* observed: the same call from a client App with tracing and metrics on, to the observed server.

For each concurrency the two sides are warmed up, then measured alternately (the order flips
every round) for ``--rounds`` rounds; the table shows the MEDIAN req/s of the rounds, the best
round in brackets, and interlink/raw of the medians. A second table gives the CPU time per
request of the client (this process) and the server (from /proc): on a shared machine req/s
swings with other load, CPU per request much less. Latency percentiles at concurrency 1 pool
every measured request of every round. The target (reported, not asserted): interlink reaches
at least 90% of raw throughput at every concurrency. A third table gives what tracing and
metrics cost per call (observed minus interlink, CPU of client plus server) and the observed
side's throughput relative to interlink (target: at least 90%; ``--no-observed`` skips it).

    python benchmarks/rpc_http.py
    python benchmarks/rpc_http.py --concurrency 1,16,64 --requests 3000,10000,20000
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import platform
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import pydantic
import uvicorn
import uvloop
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import interlink as il

HOST = "127.0.0.1"
TARGET = 0.90
READY_TIMEOUT = 30.0
"""Seconds a server child has to print its port before the run is abandoned."""
SLACK = 30.0
"""Seconds past ``--max-seconds`` after which a stuck measurement is an error, not a result."""


class Item(pydantic.BaseModel):
    sku: str
    qty: int
    unit_price_cents: int


class Payload(pydantic.BaseModel):
    order_id: str
    customer_id: str
    email: str
    currency: str
    total_cents: int
    priority: int
    tags: list[str]
    items: list[Item]
    note: str


def make_payload() -> Payload:
    return Payload(
        order_id="ord-2f9c1b7e4d3a",
        customer_id="cus-000184223",
        email="ada.lovelace@example.com",
        currency="EUR",
        total_cents=2_030,
        priority=2,
        tags=["web", "returning", "eu-west"],
        items=[
            Item(sku="apple-gala-1kg", qty=3, unit_price_cents=420),
            Item(sku="pear-conference", qty=2, unit_price_cents=385),
        ],
        note="ring twice",
    )


# -- servers (child processes) -----------------------------------------------------------------


def _stop_when_orphaned(stop: Callable[[], None]) -> None:
    """Call ``stop`` (from another thread) once the parent closes our stdin, or dies."""
    loop = asyncio.get_running_loop()

    def watch() -> None:
        # os.read, not sys.stdin: a daemon thread parked in a buffered reader's lock aborts
        # interpreter shutdown.
        while os.read(sys.stdin.fileno(), 4096):
            pass
        loop.call_soon_threadsafe(stop)

    threading.Thread(target=watch, name="orphan watch", daemon=True).start()


def _announce(port: int) -> None:
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()


def raw_app() -> Starlette:
    async def echo(request: Request) -> Response:
        model = Payload.model_validate_json(await request.body())
        return Response(model.model_dump_json(), media_type="application/json")

    return Starlette(routes=[Route("/echo", echo, methods=["POST"])])


async def serve_raw() -> None:
    sock = socket.create_server((HOST, 0), backlog=1024)
    config = uvicorn.Config(
        raw_app(),
        loop="none",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)

    def stop() -> None:
        server.should_exit = True

    _stop_when_orphaned(stop)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            return
        await asyncio.sleep(0.01)
    _announce(sock.getsockname()[1])
    await task


class NullExporter(SpanExporter):
    """Takes every batch and drops it: what remains is the cost of making the spans."""

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def observed() -> il.Observe:
    return il.Observe(tracing=True, metrics=True, exporter=NullExporter())


def bench_service() -> il.Service:
    svc = il.Service("bench")

    @svc.rpc
    async def echo(req: Payload) -> Payload:
        return req

    return svc


async def serve_interlink(observe: il.Observe | None = None) -> None:
    # Port 0, then the bound port read back: no race for a free port. An App installs no signal
    # handlers, so this child stops itself on SIGTERM/SIGINT or when the parent goes away.
    app = il.App([bench_service()], port=0, observe=observe or il.Observe())
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    _stop_when_orphaned(stopped.set)
    async with app:
        _announce(int(app.url.rpartition(":")[2]))
        await stopped.wait()


# -- server processes, seen from the parent --------------------------------------------------


class ServerProcess:
    """One ``--serve KIND`` child: started, waited for, and stopped by pid."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.port = 0
        # A session of its own: Ctrl-C reaches only us, and we stop the child deliberately.
        self._proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self._proc.pid

    def wait_ready(self) -> None:
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            if not sel.select(READY_TIMEOUT):
                raise RuntimeError(f"{self.kind} server gave no port in {READY_TIMEOUT:.0f}s")
        line = self._proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "READY":
            try:
                code: int | str = self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = "none yet"
            raise RuntimeError(f"{self.kind} server failed to start (exit code {code}; see above)")
        self.port = int(line[1])

    def stop(self) -> None:
        if self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout=5)
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                pipe.close()


# -- measuring ---------------------------------------------------------------------------------

Send = Callable[[], Awaitable[None]]


@dataclasses.dataclass(frozen=True, slots=True)
class Side:
    send: Send
    server_pid: int


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    requests: int
    seconds: float
    latencies: list[float]
    client_cpu: float
    server_cpu: float | None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of another process, from /proc (None where there is none)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


async def measure(side: Side, requests: int, concurrency: int, max_seconds: float) -> Sample:
    """``requests`` calls by ``concurrency`` workers, stopping early after ``max_seconds``."""
    latencies: list[float] = []
    left = requests
    send = side.send
    stop_at = time.perf_counter() + max_seconds

    async def worker() -> None:
        nonlocal left
        while left > 0 and time.perf_counter() < stop_at:
            left -= 1
            began = time.perf_counter()
            await send()
            latencies.append(time.perf_counter() - began)

    gc.collect()
    server_before, client_before = process_cpu(side.server_pid), time.process_time()
    began = time.perf_counter()
    async with asyncio.timeout(max_seconds + SLACK), asyncio.TaskGroup() as tg:
        for _ in range(concurrency):
            tg.create_task(worker())
    elapsed = time.perf_counter() - began
    client_cpu = time.process_time() - client_before
    server_cpu = _cpu_spent(server_before, process_cpu(side.server_pid))
    return Sample(len(latencies), elapsed, latencies, client_cpu, server_cpu)


def raw_sender(session: aiohttp.ClientSession, port: int, payload: Payload) -> Send:
    url = f"http://{HOST}:{port}/echo"
    headers = {"content-type": "application/json"}

    async def send() -> None:
        async with session.post(url, data=payload.model_dump_json(), headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"raw server answered HTTP {resp.status}")
            Payload.model_validate_json(await resp.read())

    return send


def interlink_sender(client_app: il.App, payload: Payload) -> Send:
    async def send() -> None:
        await client_app.call("bench.echo", payload, returns=Payload)

    return send


async def check_echo(
    session: aiohttp.ClientSession, client_app: il.App, port: int, payload: Payload
) -> None:
    """Both servers answer the payload unchanged, before any number is taken."""
    async with session.post(f"http://{HOST}:{port}/echo", data=payload.model_dump_json()) as r:
        raw_echo = Payload.model_validate_json(await r.read())
    interlink_echo = await client_app.call("bench.echo", payload, returns=Payload)
    if raw_echo != payload or interlink_echo != payload:
        raise RuntimeError("a server did not echo the payload")


@dataclasses.dataclass(slots=True)
class Row:
    concurrency: int
    raw: list[Sample] = dataclasses.field(default_factory=list)
    interlink: list[Sample] = dataclasses.field(default_factory=list)
    observed: list[Sample] = dataclasses.field(default_factory=list)


async def run_concurrency(
    sides: dict[str, Side], concurrency: int, requests: int, opts: argparse.Namespace
) -> Row:
    row = Row(concurrency)
    for side in sides.values():
        await measure(side, requests, concurrency, opts.warmup_seconds)
    for round_no in range(opts.rounds):
        # Turn the order every round so no side always follows the same other.
        names = list(sides)
        if round_no % 2:
            names.reverse()
        for name in names:
            sample = await measure(sides[name], requests, concurrency, opts.max_seconds)
            getattr(row, name).append(sample)
            print(
                f"  c={concurrency:<4} round {round_no + 1}  {name:<9} "
                f"{sample.requests:>6} req in {sample.seconds:5.2f}s  {sample.rps:>9,.0f} req/s",
                flush=True,
            )
    return row


async def client_main(
    raw: ServerProcess,
    interlink: ServerProcess,
    watched: ServerProcess | None,
    opts: argparse.Namespace,
) -> list[Row]:
    payload = make_payload()
    # Only --no-policy departs from the defaults, so the default run measures what users get.
    extra: dict[str, Any] = {"default_policy": None} if opts.no_policy else {}
    client_app = il.App(
        [il.Service("client")],
        registry=f"static:bench={HOST}:{interlink.port}",
        serve_http=False,
        observe=il.Observe(),
        **extra,
    )
    registry = f"static:bench={HOST}:{0 if watched is None else watched.port}"
    watching_app = client_app.replace(
        registry=registry, observe=il.Observe() if watched is None else observed()
    )
    async with aiohttp.ClientSession() as session, client_app, watching_app:
        await check_echo(session, client_app, raw.port, payload)
        sides = {
            "raw": Side(raw_sender(session, raw.port, payload), raw.pid),
            "interlink": Side(interlink_sender(client_app, payload), interlink.pid),
        }
        if watched is not None:
            sides["observed"] = Side(interlink_sender(watching_app, payload), watched.pid)
        return [
            await run_concurrency(sides, concurrency, requests, opts)
            for concurrency, requests in zip(opts.concurrency, opts.requests, strict=True)
        ]


# -- reporting ---------------------------------------------------------------------------------


def _median_rps(samples: Sequence[Sample]) -> float:
    return statistics.median(s.rps for s in samples)


def _best_rps(samples: Sequence[Sample]) -> float:
    return max(s.rps for s in samples)


def _percentiles_us(samples: Sequence[Sample]) -> tuple[float, float]:
    pooled = sorted(t for s in samples for t in s.latencies)
    cuts = statistics.quantiles(pooled, n=100, method="inclusive")
    return cuts[49] * 1e6, cuts[98] * 1e6


def _cpu_us(samples: Sequence[Sample]) -> tuple[float, float | None]:
    """Median CPU microseconds per request: this client, and the server (if measurable)."""
    client = statistics.median(s.client_cpu / s.requests for s in samples) * 1e6
    servers = [s.server_cpu / s.requests for s in samples if s.server_cpu is not None]
    return client, statistics.median(servers) * 1e6 if servers else None


def _print_throughput(rows: Sequence[Row]) -> bool:
    print(
        f"{'concurrency':>11}  {'raw req/s':>18}  {'interlink req/s':>18}  "
        f"{'interlink/raw':>13}  per-round ratios"
    )
    met = True
    for row in rows:
        raw, ilk = _median_rps(row.raw), _median_rps(row.interlink)
        ratio = ilk / raw
        met = met and ratio >= TARGET
        raw_col = f"{raw:,.0f} [{_best_rps(row.raw):,.0f}]"
        ilk_col = f"{ilk:,.0f} [{_best_rps(row.interlink):,.0f}]"
        rounds = " ".join(
            f"{i.rps / r.rps:.0%}" for r, i in zip(row.raw, row.interlink, strict=True)
        )
        print(f"{row.concurrency:>11}  {raw_col:>18}  {ilk_col:>18}  {ratio:>13.1%}  {rounds}")
    return met


def _print_cpu(rows: Sequence[Row]) -> None:
    def show(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"

    print()
    print("CPU microseconds per request (median of rounds; server read from /proc in 10 ms ticks).")
    print("raw/interlink of the totals is the throughput ratio to expect where CPU is the limit;")
    print("it moves far less than req/s when other work shares the machine:")
    print(
        f"{'concurrency':>11}  {'side':<9}  {'client':>7}  {'server':>7}  {'total':>7}  raw/interlink"
    )
    for row in rows:
        totals: dict[str, float] = {}
        for name in ("raw", "interlink"):
            client, server = _cpu_us(getattr(row, name))
            totals[name] = client if server is None else client + server
            ratio = f"{totals['raw'] / totals[name]:.1%}" if name == "interlink" else ""
            print(
                f"{row.concurrency:>11}  {name:<9}  {client:>7.0f}  {show(server):>7}  "
                f"{totals[name]:>7.0f}  {ratio:>13}"
            )


def _print_latency(rows: Sequence[Row]) -> None:
    for row in rows:
        if row.concurrency == 1:
            print()
            print("latency at concurrency 1 (every request of every round):")
            for name in ("raw", "interlink"):
                p50, p99 = _percentiles_us(getattr(row, name))
                print(f"  {name:<9}  p50 {p50:7.0f} us   p99 {p99:7.0f} us")


def _print_observed(rows: Sequence[Row]) -> None:
    """What tracing and metrics on both sides cost per call, against the same App without."""
    print()
    print("tracing + metrics on (client and server; spans to an exporter that drops them):")
    print(
        f"{'concurrency':>11}  {'interlink req/s':>15}  {'observed req/s':>14}  "
        f"{'observed/interlink':>18}  {'CPU us/call off':>15}  {'on':>6}  {'cost us':>7}  "
        f"{'cost %':>6}"
    )
    for row in rows:
        off_rps, on_rps = _median_rps(row.interlink), _median_rps(row.observed)
        totals = []
        for samples in (row.interlink, row.observed):
            client, server = _cpu_us(samples)
            totals.append(client if server is None else client + server)
        off, on = totals
        print(
            f"{row.concurrency:>11}  {off_rps:>15,.0f}  {on_rps:>14,.0f}  "
            f"{on_rps / off_rps:>18.1%}  {off:>15.0f}  {on:>6.0f}  {on - off:>7.0f}  "
            f"{(on - off) / off:>6.1%}"
        )


def report(rows: Sequence[Row], opts: argparse.Namespace) -> bool:
    size = len(make_payload().model_dump_json())
    print()
    print(
        f"interlink ctx.call vs raw aiohttp -> Starlette | {size}-byte JSON echo | "
        f"{opts.rounds} rounds, median req/s (best in brackets)"
    )
    policy = "default_policy=None" if opts.no_policy else "the default call policy"
    print(f"interlink client: App.call with {policy}")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpus, aiohttp {aiohttp.__version__}, "
        f"uvicorn {uvicorn.__version__}, pydantic {pydantic.VERSION}, interlink {il.__version__}"
    )
    print()
    met = _print_throughput(rows)
    _print_cpu(rows)
    if all(row.observed for row in rows):
        _print_observed(rows)
    _print_latency(rows)
    verdict = "met" if met else "NOT met"
    print()
    print(f"target interlink >= {TARGET:.0%} of raw at every concurrency: {verdict}")
    return met


# -- command line ------------------------------------------------------------------------------


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, not {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, not {text!r}")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "interlink ctx.call over HTTP versus raw aiohttp -> bare Starlette, same pydantic "
            "payload; servers run in child processes on 127.0.0.1. Prints req/s (median of "
            "the rounds, best in brackets), interlink/raw, and p50/p99 latency at concurrency 1."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--concurrency",
        type=_int_list,
        default="1,64",
        metavar="N[,N...]",
        help="concurrent in-flight requests, one measurement per value",
    )
    parser.add_argument(
        "--requests",
        type=_int_list,
        default="3000,20000",
        metavar="N[,N...]",
        help="requests per measurement, one per --concurrency value (a single value applies "
        "to all)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="measurements per side")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=4.0,
        help="a measurement stops after this long even if --requests are not all sent",
    )
    parser.add_argument(
        "--warmup-seconds", type=float, default=1.0, help="warm-up per side and concurrency"
    )
    parser.add_argument(
        "--no-policy",
        action="store_true",
        help="give the interlink client App default_policy=None (no deadline, retry or breaker "
        "on calls), to see what the default resilience policy costs",
    )
    parser.add_argument(
        "--no-observed",
        action="store_true",
        help="skip the third side (tracing and metrics on, client and server)",
    )
    parser.add_argument(
        "--serve",
        choices=["raw", "interlink", "observed"],
        help="internal: run one server (this script starts them itself)",
    )
    opts = parser.parse_args(argv)
    if len(opts.requests) == 1:
        opts.requests = opts.requests * len(opts.concurrency)
    if len(opts.requests) != len(opts.concurrency):
        parser.error("--requests takes one value, or one per --concurrency value")
    if opts.rounds < 1 or opts.max_seconds <= 0 or opts.warmup_seconds < 0:
        parser.error("--rounds must be >= 1, --max-seconds > 0, --warmup-seconds >= 0")
    return opts


def bench(opts: argparse.Namespace) -> int:
    servers: list[ServerProcess] = []
    try:
        kinds = ("raw", "interlink") if opts.no_observed else ("raw", "interlink", "observed")
        for kind in kinds:
            servers.append(ServerProcess(kind))
        for server in servers:
            server.wait_ready()
        print(
            f"servers: raw pid {servers[0].pid} port {servers[0].port}, "
            f"interlink pid {servers[1].pid} port {servers[1].port}",
            flush=True,
        )
        watched = servers[2] if len(servers) > 2 else None
        rows = uvloop.run(client_main(servers[0], servers[1], watched, opts))
    finally:
        for server in servers:
            server.stop()
    report(rows, opts)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.serve == "raw":
        uvloop.run(serve_raw())
        return 0
    if opts.serve == "interlink":
        uvloop.run(serve_interlink())
        return 0
    if opts.serve == "observed":
        uvloop.run(serve_interlink(observed()))
        return 0
    try:
        return bench(opts)
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
