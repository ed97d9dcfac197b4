"""One registry contract, every backend. A backend joins by adding a param to ``BACKENDS``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from interlink.discovery import MemoryRegistry, Registry, registry_from_url

BACKENDS = ["memory", "nats", "embedded"]


@dataclass
class RegistryBackend:
    """A connected registry to inspect, and how an App or a child process names it."""

    kind: str
    registry: Registry
    spec: str | Registry
    directory: str


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, tmp_path: object
) -> AsyncIterator[RegistryBackend]:
    kind: str = request.param
    directory = str(tmp_path)
    if kind == "memory":
        registry: Registry = MemoryRegistry()
        spec: str | Registry = registry
    elif kind == "nats":
        spec = request.getfixturevalue("nats_server").url
        registry = registry_from_url(spec)
    else:
        directory = request.getfixturevalue("embedded_dir")
        spec = "embedded"
        registry = registry_from_url(spec, directory=directory)
    await registry.connect()
    try:
        yield RegistryBackend(kind, registry, spec, directory)
    finally:
        await registry.close()
