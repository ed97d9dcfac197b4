"""Interlink messaging on RabbitMQ against raw aio-pika and FastStream, in one run.

This script starts its own RabbitMQ node (``rabbitmq-server`` from Debian, the tests'
``RabbitServer``: free loopback ports, its own HOME and store, stopped by pid at the end) and
runs everything under uvloop.

Payload: the 256-byte ``Order`` of ``benchmarks/messaging.py``; every side serializes it on
publish and validates it on consume. End-to-end throughput: ``--messages`` orders published by
``--concurrency`` coroutines that each await one confirmed publish at a time (so confirms are
pipelined up to ``--concurrency``), consumed by one consumer with a prefetch of 256 that acks
each message after handling it. The clock runs from the first publish to the last message
handled. A fresh durable quorum queue (interlink's group queue) and persistent messages on
every side.

* raw: aio-pika, a direct exchange, a channel with publisher confirms, ``exchange.publish``;
  ``queue.consume`` with ``prefetch_count=256``, validate, ``message.ack()``.
* interlink: ``app.publish(topic, order)``; ``@svc.subscribe(topic, max_in_flight=256)``.
* FastStream: ``broker.publish(order, queue, exchange)`` (confirms on); a subscriber on the same
  kind of queue with ``prefetch_count=256``, acking after the handler.

Target (reported, not asserted): interlink at least 90% of raw.

    python benchmarks/messaging_rabbitmq.py
    python benchmarks/messaging_rabbitmq.py --messages 20000 --repeats 3
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aio_pika
import uvloop
from benchmarks.messaging import Order, Tally, fresh, make_order
from faststream.rabbit import (
    Channel,
    ExchangeType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from tests.conftest import RabbitServer

import interlink as il

TARGET = 0.90
PREFETCH = 256
QUORUM = {"x-queue-type": "quorum"}


async def publish_all(
    concurrency: int, orders: list[Order], one: Callable[[Order], Awaitable[Any]]
) -> None:
    async def worker(start: int) -> None:
        for order in orders[start::concurrency]:
            await one(order)

    await asyncio.gather(*(worker(i) for i in range(min(concurrency, len(orders)))))


async def timed(tally: Tally, publish: Callable[[], Awaitable[None]], timeout: float) -> float:
    started = time.perf_counter()
    await publish()
    await asyncio.wait_for(tally.done.wait(), timeout)
    return tally.expected / (time.perf_counter() - started)


async def raw(url: str, orders: list[Order], concurrency: int, timeout: float) -> float:
    name = fresh("raw")
    tally = Tally(len(orders))
    connection = await aio_pika.connect_robust(url)
    try:
        publisher = await connection.channel(publisher_confirms=True)
        consumer = await connection.channel(publisher_confirms=False)
        await consumer.set_qos(prefetch_count=PREFETCH)
        exchange = await publisher.declare_exchange(
            name, aio_pika.ExchangeType.DIRECT, durable=True
        )
        queue = await consumer.declare_queue(name, durable=True, arguments=QUORUM)
        await queue.bind(name, "u")

        async def handle(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            Order.model_validate_json(message.body)
            await message.ack()
            tally.one()

        await queue.consume(handle)

        async def one(order: Order) -> None:
            body = order.model_dump_json().encode()
            message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            await exchange.publish(message, "u")

        return await timed(tally, lambda: publish_all(concurrency, orders, one), timeout)
    finally:
        await connection.close()


async def interlink(url: str, orders: list[Order], concurrency: int, timeout: float) -> float:
    topic = fresh("il")
    tally = Tally(len(orders))
    svc = il.Service(fresh("svc").replace(".", "-"))

    @svc.subscribe(topic, max_in_flight=PREFETCH)
    async def handle(order: Order) -> None:
        tally.one()

    with tempfile.TemporaryDirectory(prefix="il-bench-") as scratch:
        async with il.App([svc], broker=url, serve_http=False, directory=scratch) as app:
            return await timed(
                tally,
                lambda: publish_all(concurrency, orders, lambda o: app.publish(topic, o)),
                timeout,
            )


async def faststream(url: str, orders: list[Order], concurrency: int, timeout: float) -> float:
    name = fresh("fs")
    tally = Tally(len(orders))
    broker = RabbitBroker(url, logger=None, default_channel=Channel(prefetch_count=PREFETCH))
    exchange = RabbitExchange(name, type=ExchangeType.DIRECT, durable=True)
    queue = RabbitQueue(name, durable=True, routing_key="u", arguments=QUORUM)

    @broker.subscriber(queue, exchange)
    async def handle(order: Order) -> None:
        tally.one()

    await broker.start()
    try:
        await broker.declare_exchange(exchange)

        async def one(order: Order) -> None:
            await broker.publish(order, "u", exchange=exchange, persist=True)

        return await timed(tally, lambda: publish_all(concurrency, orders, one), timeout)
    finally:
        await broker.stop()


SIDES = {"raw": raw, "interlink": interlink, "faststream": faststream}


async def main(opts: argparse.Namespace) -> None:
    orders = [make_order(n) for n in range(opts.messages)]
    with tempfile.TemporaryDirectory(prefix="il-bench-rabbit-") as directory:
        server = RabbitServer(directory)
        server.start()
        try:
            rates: dict[str, list[float]] = {side: [] for side in SIDES}
            warm = orders[: opts.warmup]
            for run in SIDES.values():  # warm each client up once, not measured
                await run(server.url, warm, opts.concurrency, opts.timeout)
            for _ in range(opts.repeats):
                for side, run in SIDES.items():
                    rate = await run(server.url, orders, opts.concurrency, opts.timeout)
                    rates[side].append(rate)
                    print(f"  {side:10} {rate:8,.0f} msg/s", flush=True)
        finally:
            server.stop()
    median = {side: statistics.median(values) for side, values in rates.items()}
    print(f"\nRabbitMQ end-to-end throughput, 256 B, {opts.messages} messages (median):")
    for side, value in median.items():
        print(f"  {side:10} {value:8,.0f} msg/s  ({value / median['raw']:.0%} of raw)")
    ratio = median["interlink"] / median["raw"]
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"target interlink >= {TARGET:.0%} of raw: {ratio:.0%}, {verdict}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per measurement")
    return parser.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(main(parse(None)))
