"""Request/reply latency on every backend: interlink durable and non-durable against the raw
client and FastStream, in one run.

Each side sends ``--requests`` sequential requests (after ``--warmup``) of the 256-byte
``Order`` of ``benchmarks/messaging.py``; requester and responder share one process and event
loop (uvloop), every side validates the model on both ends. Printed: p50 and p99 in µs, and
each side's p50 over the raw client's.

* NATS: raw = ``nc.request`` to a core subscription that ``msg.respond``s; FastStream =
  ``broker.request`` to a core subscriber.
* RabbitMQ: raw = aio-pika direct reply-to (publish with ``reply_to=amq.rabbitmq.reply-to`` to
  a non-durable queue, no confirms; the responder acks and publishes the reply to the default
  exchange); FastStream = ``RabbitBroker.request`` (direct reply-to too).
* Redis: raw = pub/sub both ways (PUBLISH to a request channel with a reply channel, the
  responder PUBLISHes the reply); FastStream = ``RedisBroker.request`` on a channel.
* interlink durable = ``ctx.request(...)`` (a stream write); non-durable =
  ``ctx.request(..., durable=False)`` to a ``durable=False`` subscriber.

Servers are started here on free loopback ports and stopped by pid (also on Ctrl-C and TERM): nats-server from the
wheel, and (when installed) redis-server without persistence (``--appendonly no``) and
RabbitMQ. Targets (issue 10): RabbitMQ <= 1.1x raw, Redis <= 1.2x raw, NATS non-durable <= 1.1x
raw core.

    PYTHONPATH=src:. python benchmarks/request_reply.py --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import uvloop
from benchmarks.messaging import Order, make_order
from tests.conftest import NatsServer, RabbitServer, free_port

import interlink as il

Side = Callable[[str, argparse.Namespace], Awaitable[list[float]]]
_count = iter(range(1_000_000))


def fresh(prefix: str) -> str:
    return f"bench.{prefix}.{next(_count)}"


async def measure(
    opts: argparse.Namespace, one: Callable[[Order], Awaitable[Order]]
) -> list[float]:
    order = make_order(7)
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


async def interlink_side(url: str, opts: argparse.Namespace, *, durable: bool) -> list[float]:
    topic = fresh("il")
    svc = il.Service(fresh("quote").replace(".", "-"))

    @svc.subscribe(topic, durable=durable)
    async def quote(order: Order) -> Order:
        return order

    async with il.App([svc], broker=url, serve_http=False) as app:
        ctx = app.context()
        return await measure(
            opts, lambda o: ctx.request(topic, o, returns=Order, timeout=5, durable=durable)
        )


async def raw_nats(url: str, opts: argparse.Namespace) -> list[float]:
    import nats

    subject = fresh("raw")
    nc = await nats.connect(url)

    async def respond(msg: Any) -> None:
        await msg.respond(Order.model_validate_json(msg.data).model_dump_json().encode())

    try:
        await nc.subscribe(subject, queue="q", cb=respond)

        async def one(order: Order) -> Order:
            reply = await nc.request(subject, order.model_dump_json().encode(), timeout=5)
            return Order.model_validate_json(reply.data)

        return await measure(opts, one)
    finally:
        await nc.close()


async def raw_rabbit(url: str, opts: argparse.Namespace) -> list[float]:
    import aio_pika

    queue_name = fresh("raw")
    connection = await aio_pika.connect(url)
    try:
        serving = await connection.channel(publisher_confirms=False)
        await serving.set_qos(prefetch_count=16)
        queue = await serving.declare_queue(queue_name, durable=False, auto_delete=True)

        async def respond(message: Any) -> None:
            await message.ack()
            body = Order.model_validate_json(message.body).model_dump_json().encode()
            reply = aio_pika.Message(body, correlation_id=message.correlation_id)
            await serving.default_exchange.publish(reply, message.reply_to, mandatory=False)

        await queue.consume(respond)
        calling = await connection.channel(publisher_confirms=False)
        direct = await calling.get_queue("amq.rabbitmq.reply-to", ensure=False)
        waiting: dict[str, asyncio.Future[bytes]] = {}

        async def arrive(message: Any) -> None:
            future = waiting.pop(message.correlation_id, None)
            if future is not None:
                future.set_result(message.body)

        await direct.consume(arrive, no_ack=True)

        async def one(order: Order) -> Order:
            token = str(next(_count))
            future = waiting[token] = asyncio.get_running_loop().create_future()
            message = aio_pika.Message(
                order.model_dump_json().encode(),
                reply_to="amq.rabbitmq.reply-to",
                correlation_id=token,
            )
            await calling.default_exchange.publish(message, queue_name, mandatory=False)
            async with asyncio.timeout(5):
                return Order.model_validate_json(await future)

        return await measure(opts, one)
    finally:
        await connection.close()


async def raw_redis(url: str, opts: argparse.Namespace) -> list[float]:
    import redis.asyncio

    channel, inbox = fresh("raw"), fresh("inbox")
    client = redis.asyncio.Redis.from_url(url)
    serving, replies = client.pubsub(), client.pubsub()
    waiting: list[asyncio.Future[bytes]] = []

    async def respond() -> None:
        while True:
            message = await serving.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is not None and message["type"] == "message":
                reply_to, _, data = message["data"].partition(b"|")
                body = Order.model_validate_json(data).model_dump_json().encode()
                await client.publish(reply_to, body)

    async def read_replies() -> None:
        while True:
            message = await replies.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is not None and message["type"] == "message" and waiting:
                waiting.pop().set_result(message["data"])

    for pubsub, name in ((serving, channel), (replies, inbox)):
        await pubsub.subscribe(name)
        while await pubsub.get_message(timeout=5) is None:  # the subscription is confirmed
            pass
    tasks = [asyncio.create_task(respond()), asyncio.create_task(read_replies())]
    try:

        async def one(order: Order) -> Order:
            future = asyncio.get_running_loop().create_future()
            waiting.append(future)
            await client.publish(channel, inbox.encode() + b"|" + order.model_dump_json().encode())
            async with asyncio.timeout(5):
                return Order.model_validate_json(await future)

        return await measure(opts, one)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await serving.aclose()
        await replies.aclose()
        await client.aclose()


async def faststream_side(url: str, opts: argparse.Namespace) -> list[float]:
    subject = fresh("fs")
    if url.startswith("nats"):
        from faststream.nats import NatsBroker as Broker
    elif url.startswith("amqp"):
        from faststream.rabbit import RabbitBroker as Broker  # type: ignore[assignment]
    else:
        from faststream.redis import RedisBroker as Broker  # type: ignore[assignment]
    broker = Broker(url, logger=None)

    @broker.subscriber(subject)
    async def quote(order: Order) -> Order:
        return order

    await broker.start()
    try:

        async def one(order: Order) -> Order:
            reply = await broker.request(order, subject, timeout=5)
            return Order.model_validate_json(reply.body)

        return await measure(opts, one)
    finally:
        await broker.stop()


RAW: dict[str, Side] = {"nats": raw_nats, "rabbitmq": raw_rabbit, "redis": raw_redis}


@contextlib.contextmanager
def redis_server(directory: str) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server")
    port = free_port()
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", directory]
    process = subprocess.Popen(
        [*args, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
            ).stdout.strip()
            != b"PONG"
        ):
            if time.monotonic() > deadline:
                raise TimeoutError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@contextlib.asynccontextmanager
async def servers(kinds: list[str]) -> AsyncIterator[dict[str, str]]:
    with contextlib.ExitStack() as stack:
        urls = {}
        for kind in kinds:
            directory = stack.enter_context(tempfile.TemporaryDirectory())
            if kind == "redis":
                urls[kind] = stack.enter_context(redis_server(directory))
                continue
            server = NatsServer(directory) if kind == "nats" else RabbitServer(directory)
            server.start()
            stack.callback(server.stop)
            urls[kind] = server.url
        yield urls


def report(kind: str, results: dict[str, list[float]]) -> None:
    raw = statistics.median(results["raw"])
    print(f"\n{kind}: request/reply latency, µs (p50 / p99, p50 over raw)")
    for side, samples in results.items():
        ordered = sorted(samples)
        p50, p99 = statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]
        print(f"  {side:22} {p50 * 1e6:8.0f} {p99 * 1e6:8.0f}   {p50 / raw:5.2f}x")


async def run(opts: argparse.Namespace) -> None:
    async with servers(opts.backends) as urls:
        for kind, url in urls.items():
            sides: dict[str, Side] = {
                "raw": RAW[kind],
                "interlink non-durable": lambda u, o: interlink_side(u, o, durable=False),
                "interlink durable": lambda u, o: interlink_side(u, o, durable=True),
                "faststream": faststream_side,
            }
            results: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(opts.repeats):  # interleaved: drift hits every side alike
                for name, side in sides.items():
                    try:
                        async with asyncio.timeout(opts.side_timeout):
                            results[name] += await side(url, opts)
                    except TimeoutError:
                        raise SystemExit(
                            f"{kind} {name}: no result in {opts.side_timeout}s"
                        ) from None
            report(kind, results)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--side-timeout", type=float, default=120.0)
    parser.add_argument("--backends", nargs="+", default=["nats", "redis", "rabbitmq"])
    opts = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {opts.requests} requests x {opts.repeats}")
    # TERM (a timeout, a kill) stops the servers the way Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    uvloop.run(run(opts))


if __name__ == "__main__":
    main()
