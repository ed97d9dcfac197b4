"""One broker contract, every backend. A backend joins by adding a param to ``broker``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from interlink.broker import Broker, MemoryBroker, broker_from_url

BACKENDS = ["memory", "nats", "embedded"]


@pytest.fixture(params=BACKENDS)
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    backend = make_broker(request)
    await backend.connect()
    try:
        yield backend
    finally:
        await backend.close()


def make_broker(request: pytest.FixtureRequest) -> Broker:
    if request.param == "memory":
        return MemoryBroker()
    if request.param == "nats":
        return broker_from_url(request.getfixturevalue("nats_server").url)
    return broker_from_url("embedded", directory=request.getfixturevalue("embedded_dir"))
