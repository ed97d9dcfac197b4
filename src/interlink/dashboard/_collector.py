"""The collector: finds every running instance in the registry and polls its ``/metrics`` and
``/_interlink/spans``, with bounded concurrency, a timeout per request and bounded buffers.
An instance the registry no longer lists is dropped with its state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
import msgspec

from interlink.dashboard._metrics import (
    BreakerHistory,
    Sample,
    breaker_states,
    parse_metrics,
)
from interlink.dashboard._spans import SpanBuffer, decode_page
from interlink.discovery import Registry

__all__ = ["Collector", "InstanceState"]

log = logging.getLogger("interlink.dashboard")


@dataclass
class InstanceState:
    id: str
    service: str
    url: str
    after: int = 0
    samples: list[Sample] = field(default_factory=list)
    breakers: dict[str, str] = field(default_factory=dict)
    metrics: bool = False
    spans: bool = False
    error: str | None = None
    polled_at: float | None = None

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service": self.service,
            "url": self.url,
            "metrics": self.metrics,
            "spans": self.spans,
            "error": self.error,
            "polled_at": self.polled_at,
        }


class Collector:
    """``async with Collector(registry) as c:`` polls every ``interval`` seconds until closed.

    The registry must be connected; the collector does not own it.
    """

    def __init__(
        self,
        registry: Registry,
        *,
        interval: float = 1.0,
        timeout: float = 2.0,
        concurrency: int = 8,
        max_spans: int = 20_000,
        max_instances: int = 200,
    ) -> None:
        self.registry = registry
        self.interval = interval
        self.timeout = timeout
        self.max_instances = max_instances
        self.concurrency = concurrency
        self.spans = SpanBuffer(max_spans)
        self.breakers = BreakerHistory()
        self.instances: dict[str, InstanceState] = {}
        self.rounds = 0
        self._gate = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=self.concurrency),
        )
        self._task = asyncio.create_task(self._run(), name="dashboard collector")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception as exc:  # a registry hiccup must not end the dashboard
                log.warning("dashboard poll failed: %s", exc)
            await asyncio.sleep(self.interval)

    async def poll(self) -> None:
        """One round: refresh the instance list, then ask every instance at once."""
        found = await self._discover()
        for gone in set(self.instances) - set(found):
            del self.instances[gone]
            self.breakers.forget(gone)
        for instance_id, (service, url) in found.items():
            known = self.instances.get(instance_id)
            if known is None or known.url != url:
                self.instances[instance_id] = InstanceState(instance_id, service, url)
        await asyncio.gather(*(self._poll_one(i) for i in list(self.instances.values())))
        self.rounds += 1

    async def _discover(self) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        for service in await self.registry.services():
            for instance in await self.registry.resolve(service):
                if len(found) < self.max_instances:
                    found[instance.id] = (instance.service, instance.url)
        return found

    async def _poll_one(self, state: InstanceState) -> None:
        async with self._gate:
            try:
                await self._read_metrics(state)
                await self._read_spans(state)
                state.error = None
            except (aiohttp.ClientError, TimeoutError, ValueError, msgspec.DecodeError) as exc:
                state.error = f"{type(exc).__name__}: {exc}"
            state.polled_at = time.time()
        self.breakers.observe(state.id, state.service, state.breakers, state.polled_at)

    async def _get(self, url: str) -> bytes | None:
        """The body of a 200 answer; None when the instance does not serve this (404)."""
        assert self._session is not None, "use the collector as an async context manager"
        async with self._session.get(url) as response:
            if response.status == 404:
                return None
            if response.status != 200:
                raise ValueError(f"GET {url} answered {response.status}")
            return await response.read()

    async def _read_metrics(self, state: InstanceState) -> None:
        body = await self._get(f"{state.url}/metrics")
        state.metrics = body is not None
        state.samples = [] if body is None else parse_metrics(body.decode())
        state.breakers = breaker_states(state.samples)

    async def _read_spans(self, state: InstanceState) -> None:
        body = await self._get(f"{state.url}/_interlink/spans?after={state.after}")
        state.spans = body is not None
        if body is None:
            return
        page = decode_page(body)
        # A restarted instance counts from zero again: start over with it.
        state.after = page.next if page.next >= state.after else 0
        self.spans.add(page.spans)
