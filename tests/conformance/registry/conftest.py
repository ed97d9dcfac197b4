"""One registry contract, every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from interlink.discovery import MemoryRegistry, Registry


@pytest.fixture(params=["memory"])
async def registry(request: pytest.FixtureRequest) -> AsyncIterator[Registry]:
    backend = MemoryRegistry()
    await backend.connect()
    try:
        yield backend
    finally:
        await backend.close()
