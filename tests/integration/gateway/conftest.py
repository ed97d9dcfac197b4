from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from interlink.discovery import MemoryRegistry


@pytest.fixture
async def registry() -> AsyncIterator[MemoryRegistry]:
    async with MemoryRegistry() as registry:
        yield registry


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
