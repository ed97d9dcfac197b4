"""A backend without a non-durable path (no ``DirectRequests``) refuses ``durable=False``
with a clear ConfigurationError; the declaration is checked at import."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

import interlink as il
from interlink.broker import DirectRequests, MemoryBroker


class Job(BaseModel):
    n: int


class StreamsOnly:
    """The Broker seam of a memory broker without its non-durable request path."""

    def __init__(self) -> None:
        self.inner = MemoryBroker()
        self.url = "streams-only://"

    def __getattr__(self, name: str) -> object:
        if name in ("serve_requests", "request"):
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_a_backend_without_the_methods_is_not_direct() -> None:
    assert not isinstance(StreamsOnly(), DirectRequests)
    assert isinstance(MemoryBroker(), DirectRequests)


async def test_a_non_durable_request_is_refused_where_the_backend_has_none() -> None:
    app = il.App([], broker=StreamsOnly(), serve_http=False)  # type: ignore[arg-type]
    async with app:
        with pytest.raises(il.ConfigurationError, match="streams-only has no non-durable"):
            await app.context().request("a.topic", Job(n=1), timeout=1, durable=False)


async def test_a_non_durable_subscription_is_refused_at_start() -> None:
    svc = il.Service("pricing")

    @svc.subscribe("a.topic", durable=False)
    async def quote(job: Job) -> int:
        return job.n

    app = il.App([svc], broker=StreamsOnly(), serve_http=False)  # type: ignore[arg-type]
    with pytest.raises(il.ConfigurationError, match="no non-durable request/reply"):
        async with app:
            pass


def test_a_non_durable_subscription_must_reply() -> None:
    svc = il.Service("audit")
    with pytest.raises(il.DefinitionError, match="must return a value"):

        @svc.subscribe("a.topic", durable=False)
        async def record(job: Job) -> None:
            return None
