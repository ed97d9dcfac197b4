"""``interlink up`` with three replicas: calls spread, a killed replica costs the caller
nothing, the registry drops it within TTL + 1 s, and smarter balancers avoid a slow replica."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

import interlink as il
from interlink.discovery import LoadBalancer, RoundRobin, balancer, registry_from_url
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
TTL = 2.0


@pytest.fixture
async def up(tmp_path: Path) -> AsyncIterator[str]:
    """``interlink up`` with inventory=3 (replica 0 slow); yields its state directory."""
    directory = str(tmp_path / ".interlink")
    log = (tmp_path / "up.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "interlink",
        "up",
        "tests.e2e._up_app:app",
        "--replicas",
        "inventory=3",
        "--dir",
        directory,
        "--ttl",
        str(TTL),
        cwd=ROOT,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SLOW_FIRST_REPLICA": "1"},
    )
    try:
        registry = None

        async def three_up() -> bool:
            nonlocal registry
            if registry is None:
                if not (Path(directory) / "nats.json").exists():
                    return False
                registry = registry_from_url("embedded", directory=directory)
                await registry.connect()
            return len(await registry.resolve("inventory")) == 3

        await eventually(three_up, timeout=30)
        assert registry is not None
        await registry.close()
        yield directory
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()  # reaped: a process left running fails a later test at collection
            raise
        log.close()
        assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
    assert not (Path(directory) / "nats.json").exists(), "the embedded server was not stopped"


def client(directory: str, balancer: Callable[[], LoadBalancer] = RoundRobin) -> il.App:
    return il.App(
        [il.Service("caller")],
        registry="embedded",
        directory=directory,
        serve_http=False,
        load_balancer=balancer,
    )


async def load(
    app: il.App, calls: int, concurrency: int, answers: list[dict[str, int]] | None = None
) -> list[dict[str, int]]:
    answers = [] if answers is None else answers

    async def worker(n: int) -> None:
        for _ in range(n):
            answers.append(await app.call("inventory.whoami", {}))

    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    return answers


async def test_calls_spread_and_a_killed_replica_costs_the_caller_nothing(up: str) -> None:
    async with client(up) as app:
        answers = await load(app, 60, 6)
        pids = Counter(a["pid"] for a in answers)
        assert len(pids) == 3, pids

        registry = registry_from_url("embedded", directory=up)
        await registry.connect()
        try:
            before = {i.id for i in await registry.resolve("inventory")}
            victim = next(a["pid"] for a in answers if a["replica"] == 1)
            progress: list[dict[str, int]] = []
            running = asyncio.create_task(load(app, 300, 6, progress))
            await eventually(lambda: len(progress) >= 30)  # kill it in the middle of the load
            os.kill(victim, signal.SIGKILL)
            loop = asyncio.get_running_loop()
            killed_at = loop.time()

            async def dropped() -> bool:
                now = {i.id for i in await registry.resolve("inventory")}
                return len(before - now) == 1

            await eventually(dropped, timeout=TTL + 3)
            assert loop.time() - killed_at <= TTL + 1.0 + 0.3  # TTL + 1 s, plus polling slack
            answers = await running  # raises if any call failed
            assert len(answers) == 300
        finally:
            await registry.close()


async def test_a_slow_replica_gets_less_traffic_under_p2c_and_peak_ewma(up: str) -> None:
    """Replica 0 answers in 30 ms, the others in 2 ms: round robin keeps sending it a third."""
    shares: dict[str, float] = {}
    for kind in ("round_robin", "p2c", "peak_ewma"):
        async with client(up, balancer(kind, eject=False)) as app:
            await load(app, 30, 6)  # warm: connections open, estimates formed
            answers = await load(app, 240, 6)
        shares[kind] = sum(a["replica"] == 0 for a in answers) / len(answers)
    print("slow-replica share by balancer:", shares)
    assert shares["round_robin"] > 0.3, shares
    assert shares["p2c"] < shares["round_robin"] - 0.1, shares
    assert shares["peak_ewma"] < shares["round_robin"] - 0.1, shares
