"""Success-path overhead of interlink.resilience against pybreaker, aiobreaker, tenacity, stamina.

Every row wraps a call that does nothing and succeeds; the baseline (the bare call) is
subtracted, so the figures are what the policy itself costs per call. Each figure is the best of
several repeats (the least disturbed run), in microseconds.

    python benchmarks/resilience.py [--calls N] [--repeats R] [--uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiobreaker
import pybreaker
import stamina
import tenacity

from interlink.resilience import (
    AdaptiveThrottle,
    Bulkhead,
    CircuitBreaker,
    Fallback,
    Policy,
    Retry,
)

AsyncCase = Callable[[], Awaitable[object]]
SyncCase = Callable[[], object]


async def noop() -> int:
    return 1


def noop_sync() -> int:
    return 1


@dataclass
class Row:
    group: str
    name: str
    micros: float
    note: str = ""


async def time_async(case: AsyncCase, calls: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for _ in range(calls):
        await case()
    return (time.perf_counter() - started) / calls * 1e6


def time_sync(case: SyncCase, calls: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for _ in range(calls):
        case()
    return (time.perf_counter() - started) / calls * 1e6


async def timed_noop() -> int:
    async with asyncio.timeout(10.0):
        return await noop()


GROUPS = {
    "interlink CircuitBreaker.call": "breaker",
    "aiobreaker call_async": "breaker",
    "pybreaker call_async (tornado)": "breaker",
    "interlink Retry.call": "retry",
    "tenacity AsyncRetrying (@retry)": "retry",
    "stamina @retry (async)": "retry",
}


def ours() -> dict[str, AsyncCase]:
    breaker = CircuitBreaker()
    retry = Retry(on=Exception)
    trio = Policy(retry=Retry(on=Exception), breaker=CircuitBreaker(), bulkhead=Bulkhead())
    untimed = Policy(
        fallback=Fallback(value=0),
        retry=Retry(on=Exception),
        breaker=CircuitBreaker(),
        throttle=AdaptiveThrottle(),
        bulkhead=Bulkhead(),
    )
    full = Policy(
        deadline=30.0,
        fallback=Fallback(value=0),
        retry=Retry(on=Exception),
        breaker=CircuitBreaker(),
        throttle=AdaptiveThrottle(),
        timeout=10.0,
        bulkhead=Bulkhead(),
    )
    return {
        "asyncio.timeout alone (reference)": timed_noop,
        "interlink CircuitBreaker.call": lambda: breaker.call(noop),
        "interlink Retry.call": lambda: retry.call(noop),
        "interlink Policy(retry+breaker+bulkhead)": lambda: trio.execute(noop),
        "interlink Policy(all but deadline and timeout)": lambda: untimed.execute(noop),
        "interlink full Policy (all seven + deadline)": lambda: full.execute(noop),
    }


PYBREAKER_NOTE = "sync call() of a sync function (its call_async needs tornado)"


def peers() -> dict[str, AsyncCase]:
    aio = aiobreaker.CircuitBreaker()
    cases: dict[str, AsyncCase] = {"aiobreaker call_async": lambda: aio.call_async(noop)}
    if importlib.util.find_spec("tornado") is not None:
        legacy = pybreaker.CircuitBreaker()
        cases["pybreaker call_async (tornado)"] = lambda: legacy.call_async(noop)

    @tenacity.retry(stop=tenacity.stop_after_attempt(3), reraise=True)
    async def with_tenacity() -> int:
        return await noop()

    @stamina.retry(on=Exception, attempts=3)
    async def with_stamina() -> int:
        return await noop()

    cases["tenacity AsyncRetrying (@retry)"] = with_tenacity
    cases["stamina @retry (async)"] = with_stamina
    return cases


def sync_cases() -> dict[str, SyncCase]:
    breaker = CircuitBreaker()
    legacy = pybreaker.CircuitBreaker()

    def pair() -> None:
        breaker.try_acquire()
        breaker.on_success(0.0)

    return {
        "baseline: empty": lambda: None,
        "baseline: sync call": noop_sync,
        "interlink try_acquire()+on_success()": pair,
        "pybreaker call": lambda: legacy.call(noop_sync),
    }


async def run(calls: int, repeats: int) -> list[Row]:
    """Round-robin the cases, repeat by repeat, so a noisy moment hurts every row alike."""
    async_cases = {"baseline: async call": noop, **ours(), **peers()}
    syncs = sync_cases()
    best = dict.fromkeys([*async_cases, *syncs], float("inf"))
    for _ in range(repeats):
        for name, case in async_cases.items():
            best[name] = min(best[name], await time_async(case, calls))
        for name, sync in syncs.items():
            best[name] = min(best[name], time_sync(sync, calls))
    rows = [
        Row("breaker", name, best[name] - best["baseline: empty"])
        for name in ("interlink try_acquire()+on_success()",)
    ]
    rows.append(
        Row(
            "breaker",
            "pybreaker call",
            best["pybreaker call"] - best["baseline: sync call"],
            PYBREAKER_NOTE,
        )
    )
    for name in [*ours(), *peers()]:
        rows.append(
            Row(GROUPS.get(name, "policy"), name, best[name] - best["baseline: async call"])
        )
    return rows


def report(rows: list[Row], loop: str) -> None:
    reference = {
        "breaker": next(r.micros for r in rows if r.name == "interlink CircuitBreaker.call"),
        "retry": next(r.micros for r in rows if r.name == "interlink Retry.call"),
        "policy": next(r.micros for r in rows if "retry+breaker+bulkhead" in r.name),
    }
    print(f"success-path overhead per call, best of repeats, baseline subtracted ({loop})")
    print(f"{'group':8} {'implementation':48} {'µs/call':>8} {'x ours':>7}  note")
    for row in sorted(rows, key=lambda r: (r.group, r.micros)):
        ratio = row.micros / reference[row.group] if reference[row.group] > 0 else float("nan")
        print(f"{row.group:8} {row.name:48} {row.micros:8.2f} {ratio:7.1f}  {row.note}")
    print("'x ours' compares with interlink's CircuitBreaker.call, Retry.call, or")
    print("Policy(retry+breaker+bulkhead) in the same group.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)  # aiobreaker on 3.11
    if args.uvloop:
        import uvloop

        rows = uvloop.run(run(args.calls, args.repeats))
    else:
        rows = asyncio.run(run(args.calls, args.repeats))
    report(rows, "uvloop" if args.uvloop else "asyncio")


if __name__ == "__main__":
    main()
