"""One RPC contract, every transport. A transport joins by adding its name to ``TRANSPORTS``
and a branch to :func:`serve` (and to ``tests/conformance/rpc/_raw.py`` for bad input)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

import interlink as il
from interlink.discovery import MemoryRegistry
from interlink.testing import TestApp
from tests.conformance.rpc._services import backend, frontend, reset

TRANSPORTS = ["http", "socket", "grpc"]
"""Every transport a remote call can take."""
MODES = ["in-process", *TRANSPORTS]
LARGE_BODY = 16 << 20
"""The servers' max_body_size: room for the 8 MiB payloads of the large-payload tests."""


@dataclass
class System:
    """A caller App, and (over a transport) the App serving ``backend``."""

    app: il.App
    transport: str
    server: il.App | None = None


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    reset()


async def serve(transport: str) -> AsyncIterator[System]:
    """``backend`` served by one App (HTTP, socket and gRPC), called from another App told to
    reach it by ``transport`` only."""
    registry = MemoryRegistry()
    server = il.App(
        [backend],
        registry=registry,
        port=0,
        socket=True,
        grpc=True,
        max_body_size=LARGE_BODY,
        drain_timeout=2,
    )
    async with server:
        client = il.App(
            [frontend],
            registry=registry,
            port=0,
            max_body_size=LARGE_BODY,
            transports={"backend": transport},
        )
        async with client:
            yield System(client, transport, server)


@pytest.fixture(params=MODES)
async def system(request: pytest.FixtureRequest) -> AsyncIterator[System]:
    if request.param == "in-process":
        async with TestApp(il.App([frontend, backend])) as t:
            yield System(t.app, "in-process")
        return
    async for found in serve(request.param):
        yield found


@pytest.fixture(params=TRANSPORTS)
async def remote(request: pytest.FixtureRequest) -> AsyncIterator[System]:
    """Over a real transport only: what only a wire can get wrong."""
    async for found in serve(request.param):
        yield found
