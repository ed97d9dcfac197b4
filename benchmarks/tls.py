"""What mutual TLS costs a call, in one run: interlink over the socket transport and over HTTP,
with and without ``App(tls=...)``, at a few concurrencies.

Server and caller run in this one process (uvloop, 127.0.0.1), so each figure includes both
sides' CPU; the sides are measured alternately, ``--rounds`` times, and the median is printed.
Certificates are made with ``interlink certs`` code in a temporary directory. Connections are
reused, so the handshake is paid once per connection, not per call.

    python benchmarks/tls.py
    python benchmarks/tls.py --rounds 5 --concurrency 1,64 --requests 3000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import uvloop

import interlink as il
from interlink.cli._certs import init_ca, issue_cert
from interlink.discovery import MemoryRegistry

bench = il.Service("bench")
client_svc = il.Service("client")


@bench.rpc
async def echo(req: dict[str, str]) -> dict[str, str]:
    return req


def tls_for(directory: Path, service: str) -> il.Tls:
    return il.Tls(
        ca=str(directory / "ca.pem"),
        cert=str(directory / f"{service}.pem"),
        key=str(directory / f"{service}.key"),
    )


async def rate(client: il.App, concurrency: int, requests: int) -> float:
    payload = {"text": "x" * 256}
    per_worker = requests // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            await client.call("bench.echo", payload)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return per_worker * concurrency / (time.perf_counter() - started)


async def side(directory: Path | None, transport: str, concurrency: int, requests: int) -> float:
    registry = MemoryRegistry()
    server_tls = None if directory is None else tls_for(directory, "bench")
    client_tls = None if directory is None else tls_for(directory, "client")
    server = il.App([bench], registry=registry, port=0, socket=True, tls=server_tls)
    client = il.App(
        [client_svc],
        registry=registry,
        serve_http=False,
        transports={"bench": transport},
        tls=client_tls,
        default_policy=None,
    )
    async with server, client:
        await rate(client, concurrency, max(concurrency * 20, 200))  # warm up
        return await rate(client, concurrency, requests)


async def main(rounds: int, concurrencies: list[int], requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        init_ca(directory)
        for service in ("bench", "client"):
            issue_cert(directory, service)
        print(f"{'transport':<10}{'c':>4}{'plain req/s':>14}{'mTLS req/s':>14}{'mTLS/plain':>12}")
        for transport in ("socket", "http"):
            for concurrency in concurrencies:
                plain, tls = [], []
                for _ in range(rounds):
                    plain.append(await side(None, transport, concurrency, requests))
                    tls.append(await side(directory, transport, concurrency, requests))
                p, t = statistics.median(plain), statistics.median(tls)
                print(f"{transport:<10}{concurrency:>4}{p:>14.0f}{t:>14.0f}{t / p:>12.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    uvloop.run(main(args.rounds, levels, args.requests))
