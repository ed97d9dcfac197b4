"""Fixtures for the outbox suites: an App context, a flaky broker, one harness per backend.

The PostgreSQL server (``postgres_dsn``) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import pytest

import interlink as il
from interlink._clock import SYSTEM_CLOCK, Clock
from interlink._envelope import Envelope
from interlink._errors import PublishError
from interlink.broker import MemoryBroker
from tests.integration.outbox.harness import Harness, PostgresHarness, SqliteHarness

HERE = Path(__file__).parent


@pytest.fixture
def table() -> str:
    """A fresh table name per test, so tests never see each other's rows."""
    return f"outbox_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def broker() -> AsyncIterator[MemoryBroker]:
    async with MemoryBroker() as memory:
        yield memory


@pytest.fixture
async def ctx(broker: MemoryBroker) -> AsyncIterator[il.Context]:
    app = il.App([], broker=broker, serve_http=False)
    async with app:
        yield app.context("orders")


def published_ids(broker: MemoryBroker, topic: str) -> list[str]:
    """Envelope ids of what reached ``topic``, in publish order (copies included)."""
    return [Envelope.from_bytes(m.body).id for m in broker.messages(topic)]


class FlakyBroker:
    """Our Broker seam around a real MemoryBroker, failing the first ``failures`` publishes."""

    def __init__(self, inner: MemoryBroker, failures: int) -> None:
        self.url = "flaky+memory://"
        self.inner = inner
        self.failures = failures
        self.calls = 0

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise PublishError(f"broker unavailable (call {self.calls})")
        await self.inner.publish(topic, body, key=key, headers=headers, message_id=message_id)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_harness(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, table: str
) -> Callable[..., Harness]:
    """Build a harness for ``backend`` (``clock=`` goes to the outbox); the test opens it."""

    def make(*, clock: Clock = SYSTEM_CLOCK) -> Harness:
        if backend == "sqlite":
            return SqliteHarness(tmp_path / "app.db", table, clock=clock)
        dsn = request.getfixturevalue("postgres_dsn")
        return PostgresHarness(dsn, table, clock=clock)

    return make


@pytest.fixture
async def harness(make_harness: Callable[..., Harness]) -> AsyncIterator[Harness]:
    opened = make_harness()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


class CountingBroker:
    """Counts every publish per message id, duplicates included (the broker behind it would
    hide them); ``interleave`` yields between publishes so concurrent relays take turns."""

    def __init__(self, inner: MemoryBroker, *, interleave: bool = False) -> None:
        self.url = "counting+memory://"
        self.inner = inner
        self.interleave = interleave
        self.calls: Counter[str] = Counter()

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        assert message_id is not None
        self.calls[message_id] += 1
        if self.interleave:
            await asyncio.sleep(0)
        await self.inner.publish(topic, body, key=key, message_id=message_id)


class PickyBroker:
    """Our Broker seam around a real MemoryBroker, refusing what the test says: every publish
    to a topic in ``refused_topics``, and the next ``n`` publishes of an id put in
    ``refuse_next``. ``log`` keeps every publish in order as ``(message_id, accepted)``."""

    def __init__(self, inner: MemoryBroker, *, refused_topics: set[str] | None = None) -> None:
        self.url = "picky+memory://"
        self.inner = inner
        self.refused_topics = set() if refused_topics is None else refused_topics
        self.refuse_next: Counter[str] = Counter()
        self.log: list[tuple[str, bool]] = []

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        assert message_id is not None
        once = self.refuse_next[message_id] > 0
        refused = once or topic in self.refused_topics
        self.log.append((message_id, not refused))
        self.refuse_next[message_id] -= once
        if refused:
            raise PublishError(f"the broker refuses {topic!r}")
        await self.inner.publish(topic, body, key=key, message_id=message_id)
