"""Interlink messaging on Redis Streams against raw redis-py and FastStream, in one run.

The script starts its own ``redis-server`` on a free 127.0.0.1 port (no persistence; a child
process, stopped by pid at the end, on error and on Ctrl-C) and runs everything under uvloop.
The payload is the 256-byte ``Order`` of ``benchmarks/messaging.py``; every side serializes it on
publish and validates it on consume.

Throughput: ``--messages`` orders into one consumer group, timed from the first publish until
the group has handled and acknowledged the last one (its pending list is empty).

* raw: ``XADD`` in pipelines of ``--concurrency`` commands (one round trip per batch); one task
  ``XREADGROUP``s batches of up to 256, validates each entry and ``XACK``s the batch at once.
* interlink: ``--concurrency`` publisher coroutines awaiting ``app.publish(topic, order)`` one at
  a time (each publish is one script: duplicate check, ``XADD``, wake-up); ``@svc.subscribe(topic,
  max_in_flight=256)``.
* FastStream: the same publishers awaiting ``broker.publish(order, stream=topic)``; a
  ``StreamSub`` subscriber with a consumer group, acking after the handler returns.

Target (reported, not asserted): interlink at least 70% of raw pipelined.

    python benchmarks/messaging_redis.py [--messages 20000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
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

import redis.asyncio as aioredis
import uvloop
from faststream.redis import RedisBroker, StreamSub

import interlink as il
from interlink.broker._redis_layout import TopicKeys

sys.path.insert(0, str(Path(__file__).resolve().parent))
from messaging import Order, Tally, cpu_seconds, fresh, make_order

HOST = "127.0.0.1"
TARGET = 0.70
GROUP = "bench"


class RedisServer:
    """``redis-server`` without persistence, in a temporary directory; stopped by pid."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"redis://{HOST}:{self.port}"
        self._dir = tempfile.mkdtemp(prefix="interlink-bench-redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server not found: apt-get install -y redis-server")
        args = [binary, "--bind", HOST, "--port", str(self.port), "--dir", self._dir]
        args += ["--save", "", "--appendonly", "no"]
        self._proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 0.2):
                return
            time.sleep(0.02)
        raise SystemExit("redis-server did not start within 10 s")

    def cpu_seconds(self) -> float:
        return cpu_seconds(self._proc)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Options:
    url: str
    messages: int
    concurrency: int
    repeats: int
    timeout: float
    only: str
    server_cpu: Callable[[], float]


@dataclasses.dataclass(frozen=True)
class Run:
    seconds: float
    cpu: float
    server_cpu: float


async def publish_all(
    opts: Options, orders: list[Order], one: Callable[[Order], Awaitable[object]]
):
    async def worker(start: int) -> None:
        for order in orders[start :: opts.concurrency]:
            await one(order)

    await asyncio.gather(*(worker(i) for i in range(min(opts.concurrency, len(orders)))))


async def drained(client: aioredis.Redis, streams: list[str], group: str) -> None:
    """Until no entry of ``streams`` is pending for ``group`` (handled and acknowledged)."""
    while True:
        pending = 0
        for stream in streams:
            with contextlib.suppress(aioredis.ResponseError):  # not created yet
                pending += (await client.xpending(stream, group))["pending"]
        if pending == 0:
            return
        await asyncio.sleep(0.002)


async def timed(
    opts: Options,
    tally: Tally,
    publish: Callable[[], Awaitable[None]],
    settle: Callable[[], Awaitable[None]],
) -> Run:
    async with asyncio.timeout(opts.timeout):
        cpu, server, started = time.process_time(), opts.server_cpu(), time.perf_counter()
        await publish()
        await tally.done.wait()
        await settle()
        seconds = time.perf_counter() - started
    return Run(seconds, time.process_time() - cpu, opts.server_cpu() - server)


# -- the sides -----------------------------------------------------------------------------------


async def raw(opts: Options, orders: list[Order], client: aioredis.Redis) -> Run:
    stream = fresh("raw")
    await client.xgroup_create(stream, GROUP, id="$", mkstream=True)
    tally = Tally(len(orders))

    async def consume() -> None:
        while not tally.done.is_set():
            batch = await client.xreadgroup(GROUP, "c1", {stream: ">"}, count=256, block=1000)
            for _, entries in batch:
                for _, fields in entries:
                    Order.model_validate_json(fields[b"b"])
                    tally.one()
                if entries:
                    await client.xack(stream, GROUP, *(entry_id for entry_id, _ in entries))

    async def publish() -> None:
        for start in range(0, len(orders), opts.concurrency):
            async with client.pipeline(transaction=False) as pipe:
                for order in orders[start : start + opts.concurrency]:
                    pipe.xadd(stream, {"b": order.model_dump_json()})
                await pipe.execute()

    consumer = asyncio.create_task(consume())
    try:
        return await timed(opts, tally, publish, lambda: drained(client, [stream], GROUP))
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await client.delete(stream)


async def interlink(opts: Options, orders: list[Order], client: aioredis.Redis) -> Run:
    topic = fresh("il")
    svc = il.Service(fresh("svc").replace(".", "-"))
    tally = Tally(len(orders))

    @svc.subscribe(topic, max_in_flight=256)
    async def handle(order: Order) -> None:
        tally.one()

    async with il.App([svc], broker=opts.url, serve_http=False) as app:
        names = TopicKeys(topic)
        return await timed(
            opts,
            tally,
            lambda: publish_all(opts, orders, lambda o: app.publish(topic, o)),
            lambda: drained(client, [names.stream(0)], svc.name),
        )


async def faststream(opts: Options, orders: list[Order], client: aioredis.Redis) -> Run:
    stream = fresh("fs")
    tally = Tally(len(orders))
    broker = RedisBroker(opts.url, logger=None, max_connections=opts.concurrency + 16)

    @broker.subscriber(stream=StreamSub(stream, group=GROUP, consumer="c1", max_records=256))
    async def handle(order: Order) -> None:
        tally.one()

    await broker.start()
    try:
        return await timed(
            opts,
            tally,
            lambda: publish_all(opts, orders, lambda o: broker.publish(o, stream=stream)),
            lambda: drained(client, [stream], GROUP),
        )
    finally:
        await broker.stop()
        await client.delete(stream)


SIDES = {"raw pipelined": raw, "interlink": interlink, "FastStream": faststream}


async def run(opts: Options) -> dict[str, list[Run]]:
    orders = [make_order(n) for n in range(opts.messages)]
    runs: dict[str, list[Run]] = {}
    client = aioredis.from_url(opts.url)
    try:
        for _ in range(opts.repeats):
            for side, bench in SIDES.items():
                if opts.only and not any(w in side for w in opts.only.split(",")):
                    continue
                measured = await bench(opts, orders, client)
                runs.setdefault(side, []).append(measured)
                rate = opts.messages / measured.seconds
                print(f"  {side}: {rate:,.0f} msg/s", flush=True)
    finally:
        await client.aclose()
    return runs


def report(runs: dict[str, list[Run]], opts: Options) -> None:
    def rate(side: str) -> float:
        return statistics.median(opts.messages / r.seconds for r in runs[side])

    def us(side: str, field: str) -> float:
        return statistics.median(getattr(r, field) / opts.messages * 1e6 for r in runs[side])

    base = rate("raw pipelined") if "raw pipelined" in runs else 0.0
    print(f"\nThroughput: {opts.messages} x 256 B (median of {opts.repeats})")
    print(f"{'side':<16}{'msg/s':>9}{'vs raw':>8}{'CPU us/msg here':>17}{'in redis':>10}")
    for side in runs:
        ratio = rate(side) / base if base else float("nan")
        print(
            f"{side:<16}{rate(side):>9,.0f}{ratio:>7.2f}x{us(side, 'cpu'):>17.0f}"
            f"{us(side, 'server_cpu'):>10.0f}"
        )
    if base and "interlink" in runs:
        share = rate("interlink") / base
        verdict = "met" if share >= TARGET else "MISSED"
        print(
            f"\nTarget (not asserted): interlink/raw pipelined = {share:.2f} "
            f"(>= {TARGET}): {verdict}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)
    server = RedisServer()
    opts = Options(url=server.url, server_cpu=server.cpu_seconds, **vars(args))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        server.start()
        print(f"interlink messaging on Redis Streams, {server.url}", flush=True)
        runs = uvloop.run(run(opts))
    finally:
        server.stop()
    report(runs, opts)


if __name__ == "__main__":
    main()
