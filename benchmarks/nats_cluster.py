"""Killing the stream leader of a 3-node JetStream cluster: interlink against raw nats-py.

Each round starts a fresh 3-node cluster (``nats-server -js`` child processes on free
127.0.0.1 ports, stopped by pid at the end and on error) for each side, in turn:

* raw: ``js.add_stream`` with interlink's stream settings and 3 replicas, a durable consumer
  (so the interest stream keeps what is published), then ``--publishers`` coroutines each
  awaiting ``js.publish(..., headers={"Nats-Msg-Id": id}, timeout=1)`` one at a time, and on
  any error sending the same message again until it is acknowledged (what a careful user of the
  raw client writes; every error is counted);
* interlink: ``broker.subscribe(topic, group=...)`` (creates the R3 stream and the group's
  durable consumers), then the same coroutines awaiting ``broker.publish(topic, body,
  message_id=id)`` once (interlink resends through the election itself; an error would count).

After ``--before`` seconds the node leading the stream is SIGKILLed; publishing goes on for
``--after`` seconds more; then the node is restarted. Printed per side and round:

* stall: the longest one publish took from its first send to its acknowledgement;
* outage: the longest time after the kill with no publish acknowledged at all;
* errors: publish errors the caller saw;
* catch-up: from the restart until the node is a current replica of the stream again;
* lost / extra: acknowledged messages missing from the stream, and copies beyond one each.

    python benchmarks/nats_cluster.py
    python benchmarks/nats_cluster.py --rounds 3 --publishers 8
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from interlink.broker import NatsBroker, StreamSettings
from interlink.broker._nats_streams import stream_config, stream_name
from interlink.embedded import find_nats_server

Publish = Callable[[str], Awaitable[int]]
"""Publish one message with this id until it is stored; returns the errors seen meanwhile."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root, self.binary = root, find_nats_server()
        self.ports = [free_port() for _ in range(3)]
        self.routes = ",".join(f"nats://127.0.0.1:{free_port()}" for _ in range(3))
        self.url = "nats://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        i = int(name[1:])
        self.processes[name] = subprocess.Popen(
            [
                *(self.binary, "-a", "127.0.0.1", "-p", str(self.ports[i]), "-js"),
                *("-sd", str(self.root / name), "--server_name", name, "--cluster_name", "b"),
                *("--cluster", self.routes.split(",")[i], "--routes", self.routes),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            process.wait(timeout=20)
        self.processes.clear()


@dataclass
class Result:
    side: str
    acked: int = 0
    errors: int = 0
    stall: float = 0.0
    outage: float = 0.0
    catch_up: float = 0.0
    stored: int = 0
    extra: int = 0
    latencies: list[float] = field(default_factory=list)


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout}s")
        await asyncio.sleep(0.02)


async def run_side(side: str, args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory(prefix="nats-cluster-bench-") as tmp:
        cluster = Cluster(Path(tmp))
        try:
            for name in ("n0", "n1", "n2"):
                cluster.start(name)
            return await measure(side, cluster, args)
        finally:
            cluster.stop()


async def measure(side: str, cluster: Cluster, args: argparse.Namespace) -> Result:
    import nats

    topic = f"bench.{side}"
    broker = NatsBroker(cluster.url, settings=StreamSettings(replicas=3))
    await wait_for(lambda: _connects(broker), 20)
    js = broker.jetstream
    if side == "raw":
        nc = await nats.connect(servers=cluster.url.split(","), max_reconnect_attempts=-1)
        raw_js = nc.jetstream()
        await raw_js.add_stream(**stream_config(topic, StreamSettings(replicas=3)))
        await raw_js.add_consumer(stream_name(topic), durable_name="keep", filter_subject=topic)
        publish = _raw(raw_js, topic)
    else:
        await (await broker.subscribe(topic, group="keep", max_in_flight=1)).close()
        publish = _interlink(broker, topic)
    result = Result(side)
    killed: list[float] = []
    acks: list[float] = []
    stop = asyncio.Event()

    async def publisher(p: int) -> None:
        for n in range(p, 10**9, args.publishers):
            if stop.is_set():
                return
            started = time.monotonic()
            result.errors += await publish(f"{side}-{n}")
            acks.append(done := time.monotonic())
            result.latencies.append(done - started)
            result.acked += 1

    tasks = [asyncio.create_task(publisher(p)) for p in range(args.publishers)]
    await asyncio.sleep(args.before)  # load before the kill
    leader = (await js.stream_info(stream_name(topic))).cluster.leader  # type: ignore[union-attr]
    cluster.kill(str(leader))
    killed.append(time.monotonic())
    await asyncio.sleep(args.after)  # load through the election and after it
    stop.set()
    await asyncio.gather(*tasks)
    result.stall = max(result.latencies)
    after = sorted([killed[0], *(t for t in acks if t > killed[0])])
    result.outage = max(b - a for a, b in itertools.pairwise(after)) if acks else 0.0
    restarted = time.monotonic()
    cluster.start(str(leader))
    await wait_for(lambda: _current(broker, topic, str(leader)), 60)
    result.catch_up = time.monotonic() - restarted
    info = await js.stream_info(stream_name(topic))
    result.stored = int(info.state.messages)
    result.extra = max(0, result.stored - result.acked)
    if side == "raw":
        await nc.close()
    await broker.close()
    return result


async def _connects(broker: NatsBroker) -> bool:
    try:
        await broker.connect()
        await broker.jetstream.account_info()
    except Exception:  # the cluster is starting or electing its meta leader
        await broker.close()
        return False
    return True


async def _current(broker: NatsBroker, topic: str, node: str) -> bool:
    info = await broker.jetstream.stream_info(stream_name(topic))
    cluster = info.cluster
    if cluster is None:
        return False
    peer = next((p for p in cluster.replicas or [] if p.name == node), None)
    return cluster.leader == node or (peer is not None and bool(peer.current) and not peer.lag)


def _raw(js: object, topic: str) -> Publish:
    async def publish(message_id: str) -> int:
        errors = 0
        while True:
            try:
                await js.publish(  # type: ignore[attr-defined]
                    topic, b"x" * 256, headers={"Nats-Msg-Id": message_id}, timeout=1.0
                )
                return errors
            except Exception:  # no leader, no responders, a timeout: send it again
                errors += 1
                await asyncio.sleep(0.05)

    return publish


def _interlink(broker: NatsBroker, topic: str) -> Publish:
    async def publish(message_id: str) -> int:
        try:
            await broker.publish(topic, b"x" * 256, message_id=message_id)
        except Exception:
            return 1  # counted, and not resent: interlink's own resends gave up
        return 0

    return publish


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--before", type=float, default=1.0)
    parser.add_argument("--after", type=float, default=12.0)
    args = parser.parse_args()
    logging.getLogger("nats").setLevel(logging.CRITICAL)  # its reconnect tracebacks
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {args.publishers} publishers")
    print(
        f"{'side':10} {'acked':>6} {'errors':>6} {'stall s':>8} {'outage s':>9} "
        f"{'catch-up s':>10} {'lost':>5} {'extra':>5}"
    )
    for _ in range(args.rounds):
        for side in ("raw", "interlink"):
            r = asyncio.run(run_side(side, args))
            lost = max(0, r.acked - r.stored)
            print(
                f"{side:10} {r.acked:6} {r.errors:6} {r.stall:8.2f} {r.outage:9.2f} "
                f"{r.catch_up:10.2f} {lost:5} {r.extra:5}"
            )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
