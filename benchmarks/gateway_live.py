"""The live edge, measured in one process: EventFeed fan-out and GraphQL over an RPC.

Everything (uvicorn servers, the memory broker, the clients) runs in this one process on one
event loop, so the figures are what one core does for both sides; compare the rows of one run,
not runs on different days.

* feed: ``--clients`` WebSocket clients (``websockets``) subscribe to one topic of an
  ``EventFeed`` served by uvicorn; ``--events`` events are published on a memory broker as
  fast as it takes them; reported: frames pushed per second until every client has every
  event, and publish-to-receive latency percentiles over every (event, client) pair, for the
  burst and again with one event every ``--pace`` seconds. The queue bound is set above
  ``--events`` so that nobody is dropped.
* graphql: ``catalog.product`` (a pydantic model with a nested model) called ``--requests``
  times at concurrency ``--concurrency``: with ``edge.call`` (the call a GraphQL field makes:
  discovery, policy, interlink's HTTP client to the service) and as a GraphQL query posted
  with aiohttp to ``graphql_app`` (served by uvicorn) on that same ``edge`` App; reported:
  each rate and their ratio, i.e. what GraphQL parsing, validation, resolution and its own
  HTTP hop cost on top of the call.

    python benchmarks/gateway_live.py
    python benchmarks/gateway_live.py --clients 200 --events 500 --requests 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import aiohttp
import uvicorn
from pydantic import BaseModel
from websockets.asyncio.client import connect

import interlink as il
from interlink.broker import MemoryBroker
from interlink.discovery import MemoryRegistry
from interlink.gateway import EventFeed, allow_all, graphql_app

catalog = il.Service("catalog")


class ProductQuery(BaseModel):
    sku: str


class Price(BaseModel):
    amount_cents: int
    currency: str = "EUR"


class Product(BaseModel):
    sku: str
    name: str
    price: Price
    tags: list[str]


@catalog.rpc(idempotent=True)
async def product(req: ProductQuery) -> Product:
    return Product(sku=req.sku, name="Pear", price=Price(amount_cents=95), tags=["fruit"])


async def serve(app: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no started event
        await asyncio.sleep(0.01)
    return server, task


async def feed_fanout(clients: int, events: int, port: int, pace: float) -> None:
    async with il.App([], broker=MemoryBroker(), serve_http=False) as app:
        feed = EventFeed(
            broker=app,
            topics=["bench"],
            allow=allow_all,
            require_identity=False,
            max_queue=events + 16,
            max_connections=clients + 1,
            heartbeat=None,
        )
        async with feed:
            server, task = await serve(feed, port)
            sockets = [
                await connect(f"ws://127.0.0.1:{port}/", max_queue=None) for _ in range(clients)
            ]
            for ws in sockets:
                await ws.send(json.dumps({"op": "subscribe", "topic": "bench"}))
                await ws.recv()
            latencies: list[float] = []

            async def drain(ws: Any) -> None:
                for _ in range(events):
                    frame = json.loads(await ws.recv())
                    latencies.append(time.perf_counter() - frame["data"]["t"])

            readers = [asyncio.create_task(drain(ws)) for ws in sockets]
            start = time.perf_counter()
            for i in range(events):
                await app.publish("bench", {"i": i, "t": time.perf_counter()})
            await asyncio.gather(*readers)
            elapsed = time.perf_counter() - start
            burst = sorted(latencies)
            latencies.clear()
            readers = [asyncio.create_task(drain(ws)) for ws in sockets]
            for i in range(events):  # paced: one event every `pace` seconds
                await app.publish("bench", {"i": i, "t": time.perf_counter()})
                await asyncio.sleep(pace)
            await asyncio.gather(*readers)
            for ws in sockets:
                await ws.close()
            server.should_exit = True
            await task
    print(f"feed: {clients} clients x {events} events = {clients * events} frames")
    print(f"  burst: {clients * events / elapsed:,.0f} frames/s pushed; {_percentiles(burst)}")
    print(f"  paced (an event every {pace * 1e3:g} ms): {_percentiles(sorted(latencies))}")


def _percentiles(latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return (
        f"publish-to-receive p50 {q[49] * 1e3:.1f} ms, p99 {q[98] * 1e3:.1f} ms, "
        f"max {latencies[-1] * 1e3:.1f} ms"
    )


async def load(
    session: aiohttp.ClientSession, url: str, body: Any, n: int, concurrency: int
) -> float:
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with session.post(url, json=body) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


async def calls(edge: il.App, n: int, concurrency: int) -> float:
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await edge.call(product, ProductQuery(sku="pear"))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


async def graphql_vs_direct(requests: int, concurrency: int, port: int) -> None:
    registry = MemoryRegistry()
    async with (
        il.App([catalog], registry=registry, port=0),
        il.App([], registry=registry, serve_http=False) as edge,
    ):
        server, task = await serve(graphql_app(edge, [catalog]), port)
        graphql_url = f"http://127.0.0.1:{port}/graphql"
        query = {"query": '{ catalog_product(sku: "pear") { name price { amount_cents } } }'}
        async with aiohttp.ClientSession() as session:
            await calls(edge, 200, concurrency)  # warm up
            await load(session, graphql_url, query, 200, concurrency)
            direct = await calls(edge, requests, concurrency)
            graphql = await load(session, graphql_url, query, requests, concurrency)
        server.should_exit = True
        await task
    print(f"graphql: {requests} requests at concurrency {concurrency}")
    print(
        f"  app.call (the call each field makes) {direct:,.0f} calls/s; the same through "
        f"graphql_app over HTTP {graphql:,.0f} req/s ({graphql / direct:.0%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--pace", type=float, default=0.01)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=8097)
    args = parser.parse_args()
    asyncio.run(feed_fanout(args.clients, args.events, args.port, args.pace))
    asyncio.run(graphql_vs_direct(args.requests, args.concurrency, args.port + 1))


if __name__ == "__main__":
    main()
