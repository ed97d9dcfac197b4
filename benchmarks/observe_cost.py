"""What tracing and metrics cost per call, client and server App in one process.

Two pairs of Apps run in this process (uvloop): a server App serving ``rpc_http.py``'s
``bench.echo`` over loopback HTTP and a client-only App calling it through ``static:``, one pair
with everything off, one with ``Observe(tracing=True, metrics=True)`` and spans going through
the batch processor to an exporter that drops them. Sequential calls, rounds interleaved (the
order flips every round); the CPU time of the process per call is steadier than
``rpc_http.py``'s req/s on a shared machine, and counts both sides in one number.

    python benchmarks/observe_cost.py
    python benchmarks/observe_cost.py --rounds 6 --requests 5000
"""

from __future__ import annotations

import argparse
import statistics
import time

import uvloop

import interlink as il
from rpc_http import NullExporter, Payload, bench_service, make_payload


def observe(on: bool) -> il.Observe:
    if not on:
        return il.Observe()
    return il.Observe(tracing=True, metrics=True, exporter=NullExporter())


async def measure(rounds: int, requests: int) -> dict[bool, list[float]]:
    payload = make_payload()
    cpu: dict[bool, list[float]] = {False: [], True: []}
    servers = {on: il.App([bench_service()], port=0, observe=observe(on)) for on in (False, True)}
    async with servers[False], servers[True]:
        clients = {
            on: il.App(
                [],
                registry=f"static:bench={servers[on].url.split('//')[1]}",
                serve_http=False,
                observe=observe(on),
            )
            for on in (False, True)
        }
        async with clients[False], clients[True]:
            for on in (False, True):  # warm up
                for _ in range(min(500, requests)):
                    await clients[on].call("bench.echo", payload, returns=Payload)
            for n in range(rounds):
                for on in (False, True) if n % 2 == 0 else (True, False):
                    started = time.process_time()
                    for _ in range(requests):
                        await clients[on].call("bench.echo", payload, returns=Payload)
                    cpu[on].append((time.process_time() - started) / requests * 1e6)
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    cpu = uvloop.run(measure(args.rounds, args.requests))
    for on in (False, True):
        rounds = " ".join(f"{us:.0f}" for us in cpu[on])
        print(f"{'on ' if on else 'off'}  CPU us per call by round: {rounds}")
    off, on = statistics.median(cpu[False]), statistics.median(cpu[True])
    print(
        f"median: off {off:.0f} us, on {on:.0f} us, cost {on - off:+.0f} us ({on / off - 1:+.0%})"
    )


if __name__ == "__main__":
    main()
