"""One broker contract, every backend. A backend joins by adding a param to ``broker``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from interlink.broker import Broker, MemoryBroker


@pytest.fixture(params=["memory"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    backend = MemoryBroker()
    await backend.connect()
    try:
        yield backend
    finally:
        await backend.close()
