"""One registry contract, every backend. A backend joins by adding a param to ``BACKENDS``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from interlink.discovery import MemoryRegistry, Registry, registry_from_url

BACKENDS = ["memory", "nats", "embedded", "etcd", "consul"]
SERVERS = ["nats", "embedded", "etcd", "consul"]  # the backends a child process can share
CONSUL_SKIP = "set INTERLINK_CONSUL_URL=consul://host:8500 to run the Consul registry tests"


@dataclass
class RegistryBackend:
    """A connected registry to inspect, and how an App or a child process names it."""

    kind: str
    registry: Registry
    spec: str | Registry
    directory: str


def server_spec(kind: str, request: pytest.FixtureRequest, directory: str) -> tuple[str, str]:
    """The registry URL of a server-backed ``kind``, and the directory an App should use."""
    if kind == "nats":
        return request.getfixturevalue("nats_server").url, directory
    if kind == "embedded":
        return "embedded", request.getfixturevalue("embedded_dir")
    if kind == "etcd":
        return request.getfixturevalue("etcd_server").url, directory
    if kind == "consul":
        url = os.environ.get("INTERLINK_CONSUL_URL")
        if not url:
            pytest.skip(CONSUL_SKIP)
        return url, directory
    raise ValueError(f"no server for registry backend {kind!r}")


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, tmp_path: object
) -> AsyncIterator[RegistryBackend]:
    kind: str = request.param
    directory = str(tmp_path)
    if kind == "memory":
        registry: Registry = MemoryRegistry()
        spec: str | Registry = registry
    else:
        spec, directory = server_spec(kind, request, directory)
        registry = registry_from_url(spec, directory=directory)
    await registry.connect()
    try:
        yield RegistryBackend(kind, registry, spec, directory)
    finally:
        await registry.close()
