"""CPU per call of interlink's call path in one process (client and server on one uvloop loop).

A server App serves ``bench.echo`` over HTTP and the socket transport; client-only Apps call it
sequentially through ``app.call("bench.echo", payload, returns=Payload)`` told to use the socket
or HTTP, next to ``SocketClient.send`` with a bare envelope (the transport alone) and the
server App calling itself (``local``: the whole call path and dispatch without a transport). Because both
sides share the process, ``time.process_time`` per call is the client's and the server's CPU
together, and on a loaded machine it is much steadier than calls/s.

    python benchmarks/call_path.py                    # 3 rounds of 5,000 calls per side
    python benchmarks/call_path.py --profile socket   # cProfile of the socket side, top 40
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections.abc import Awaitable, Callable
from statistics import median

import uvloop

import interlink as il
from interlink._envelope import Envelope, new_id
from interlink.transport.socket import SocketClient
from rpc import _Registry
from rpc_http import Payload, bench_service, make_payload

Send = Callable[[], Awaitable[object]]


async def _loop(send: Send, calls: int) -> float:
    """CPU microseconds per call over ``calls`` sequential calls."""
    started = time.process_time()
    for _ in range(calls):
        await send()
    return (time.process_time() - started) / calls * 1e6


async def main(opts: argparse.Namespace) -> None:
    payload = make_payload()
    policy = {"default_policy": None} if opts.no_policy else {}
    server = il.App([bench_service()], port=0, socket=True, **policy)
    async with server:
        port = int(server.url.rpartition(":")[2])
        registry = _Registry(port, server.socket_url)
        apps = {
            name: il.App(
                [],
                registry=registry,
                serve_http=False,
                transports={"bench": name},
                **policy,
            )
            for name in ("socket", "http")
        }
        async with apps["socket"], apps["http"], SocketClient() as client:

            async def raw() -> object:
                envelope = Envelope(
                    id=new_id(), source="/bench", type="bench.echo", specversion="1.0"
                )
                outcome = await client.send(
                    server.socket_url,
                    "bench",
                    "echo",
                    envelope,
                    payload.model_dump_json().encode(),
                    None,
                )
                return Payload.model_validate_json(outcome.body)

            sides: dict[str, Send] = {
                "local": lambda: server.call(
                    "bench.echo", payload, returns=Payload, timeout=opts.timeout
                ),
                "socket-client": raw,
                "socket": lambda: apps["socket"].call(
                    "bench.echo", payload, returns=Payload, timeout=opts.timeout
                ),
                "http": lambda: apps["http"].call(
                    "bench.echo", payload, returns=Payload, timeout=opts.timeout
                ),
            }
            if opts.sides:
                sides = {name: sides[name] for name in opts.sides.split(",")}
            for send in sides.values():
                await _loop(send, opts.calls // 5)
            if opts.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                await _loop(sides[opts.profile], opts.calls)
                profiler.disable()
                stats = pstats.Stats(profiler).sort_stats(opts.sort)
                stats.print_stats(200)
                return
            results: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(opts.rounds):
                for name, send in sides.items():
                    results[name].append(await _loop(send, opts.calls))
            print(f"CPU µs per call (client + server), median of {opts.rounds} x {opts.calls}:")
            for name, values in results.items():
                spread = ", ".join(f"{v:.0f}" for v in values)
                print(f"  {name:<14} {median(values):6.1f}   ({spread})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=("local", "socket-client", "socket", "http"))
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--sides", help="comma-separated: local,socket-client,socket,http")
    parser.add_argument("--timeout", type=float, help="a timeout on every call (seconds)")
    parser.add_argument("--no-policy", action="store_true", help="Apps without a call policy")
    uvloop.run(main(parser.parse_args()))
