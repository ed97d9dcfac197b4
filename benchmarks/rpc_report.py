"""The tables of ``benchmarks/rpc.py``: throughput, CPU per call, and the ratios the issue sets
targets for."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from rpc_http import _best_rps, _cpu_us, _median_rps, _percentiles_us

RATIOS = (
    ("interlink-socket", "tcp", 0.50, "socket / raw TCP (target >= 50% at c=1)"),
    ("interlink-socket", "grpc", 10.0, "socket / raw grpc.aio (target >= 10x at c=1)"),
    ("socket-client", "tcp", None, "SocketClient alone / raw TCP"),
    ("socket-client", "grpc", None, "SocketClient alone / raw grpc.aio"),
    ("interlink-socket", "interlink-http", None, "socket / interlink HTTP"),
    ("interlink-grpc", "grpc", 0.90, "interlink gRPC / raw grpc.aio (target >= 90%)"),
    ("interlink-http", "starlette", None, "interlink HTTP / raw aiohttp -> Starlette"),
)


def _total_cpu(samples: Sequence[Any]) -> float:
    client, server = _cpu_us(samples)
    return client if server is None else client + server


def report(results: dict[str, dict[str, list[Any]]]) -> None:
    for concurrency, samples in results.items():
        print()
        print(f"concurrency {concurrency}")
        print(
            f"  {'side':<17} {'calls/s [best]':>18} {'client us':>10} {'server us':>10} "
            f"{'total us':>9} {'p50 us':>8} {'p99 us':>8}"
        )
        for name, rounds in samples.items():
            client, server = _cpu_us(rounds)
            p50, p99 = _percentiles_us(rounds)
            served = "n/a" if server is None else f"{server:.0f}"
            rate = f"{_median_rps(rounds):,.0f} [{_best_rps(rounds):,.0f}]"
            print(
                f"  {name:<17} {rate:>18} {client:>10.0f} {served:>10} "
                f"{_total_cpu(rounds):>9.0f} {p50:>8.0f} {p99:>8.0f}"
            )
        print(f"  {'ratio':<44} {'calls/s':>8} {'CPU per call (inverse)':>24}")
        for ours, theirs, target, label in RATIOS:
            speed = _median_rps(samples[ours]) / _median_rps(samples[theirs])
            cpu = _total_cpu(samples[theirs]) / _total_cpu(samples[ours])
            shown = f"{speed:.2f}x" if target is not None and target > 1 else f"{speed:.1%}"
            cpu_shown = f"{cpu:.2f}x" if target is not None and target > 1 else f"{cpu:.1%}"
            met = ""
            if target is not None and concurrency == "1":
                met = "  met" if speed >= target else "  NOT met"
            print(f"  {label:<44} {shown:>8} {cpu_shown:>24}{met}")
    rounds = [len(r) for s in results.values() for r in s.values()]
    print()
    print(f"(medians of {statistics.median(rounds):.0f} rounds; CPU: client + server process)")
