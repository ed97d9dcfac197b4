"""Sampling what only a broker or a database can tell: subscription counts, dead letters, sagas.

One task per App reads them every ``interval`` seconds and keeps the last sample; a scrape
only reads that sample, so a slow broker never holds up ``GET /metrics``. Each read is bounded
by ``interval``; one that fails or runs out of time keeps its previous value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from interlink.broker import Broker, SubscriptionStatistics, SubscriptionStats
from interlink.messaging import dead_letters_by_group
from interlink.saga._store import SagaStore

__all__ = ["DEFAULT_INTERVAL", "Sample", "StateSampler", "Watched"]

log = logging.getLogger("interlink.observe")

DEFAULT_INTERVAL = 5.0
MIN_INTERVAL, MAX_INTERVAL = 0.05, 300.0
DEAD_LETTER_LIMIT = 1000
"""Dead letters read back per topic and round: a gauge above it shows this many."""

T = TypeVar("T")
Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Watched:
    """One consumer group to sample, and where its dead letters go."""

    topic: str
    group: str
    dead_letter_topic: str


@dataclass(frozen=True, slots=True)
class Sample:
    """The last reading: (topic, group) -> counts, (saga, status) -> how many."""

    subscriptions: Mapping[Pair, SubscriptionStats] = field(default_factory=dict)
    dead_letters: Mapping[Pair, int] = field(default_factory=dict)
    sagas: Mapping[Pair, int] = field(default_factory=dict)
    rounds: int = 0


class StateSampler:
    """``async with StateSampler(...)`` samples until exit; ``latest`` is the last sample."""

    def __init__(
        self,
        broker: Broker,
        watched: Sequence[Watched],
        saga_stores: Sequence[SagaStore] = (),
        *,
        interval: float = DEFAULT_INTERVAL,
        dead_letter_limit: int = DEAD_LETTER_LIMIT,
    ) -> None:
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise ValueError(f"interval must be {MIN_INTERVAL}-{MAX_INTERVAL} s, not {interval}")
        self._broker = broker
        self._watched = list(dict.fromkeys(watched))
        self._stores = list(saga_stores)
        self._saga_counts: dict[int, Mapping[Pair, int]] = {}
        """store index -> its last counts (kept when a read fails)"""
        self.interval = interval
        self._limit = dead_letter_limit
        self.latest = Sample()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StateSampler:
        self._task = asyncio.create_task(self._run(), name="interlink state sampler")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.interval)

    async def sample(self) -> Sample:
        """Read everything once and keep it as ``latest``."""
        last = self.latest
        self.latest = Sample(
            await self._subscriptions(last.subscriptions),
            await self._dead_letters(last.dead_letters),
            await self._sagas(),
            last.rounds + 1,
        )
        return self.latest

    async def _subscriptions(
        self, last: Mapping[Pair, SubscriptionStats]
    ) -> dict[Pair, SubscriptionStats]:
        found = dict(last)
        if isinstance(self._broker, SubscriptionStatistics):
            stats = self._broker.subscription_stats
            for w in self._watched:
                got = await self._read(stats(w.topic, w.group), f"{w.group} on {w.topic}")
                if got is not None:
                    found[w.topic, w.group] = got
        return found

    async def _dead_letters(self, last: Mapping[Pair, int]) -> dict[Pair, int]:
        found = dict(last)
        for topic in dict.fromkeys(w.dead_letter_topic for w in self._watched):
            read = dead_letters_by_group(self._broker, topic, limit=self._limit)
            by_group = await self._read(read, f"dead letters of {topic}")
            if by_group is not None:
                for w in self._watched:
                    if w.dead_letter_topic == topic:
                        found[w.topic, w.group] = by_group[w.group]
        return found

    async def _sagas(self) -> dict[Pair, int]:
        for n, store in enumerate(self._stores):
            got = await self._read(store.counts(), "saga counts")
            if got is not None:
                self._saga_counts[n] = got
        total: dict[Pair, int] = {}
        for counts in self._saga_counts.values():
            for pair, count in counts.items():
                total[pair] = total.get(pair, 0) + count
        return total

    async def _read(self, read: Awaitable[T], what: str) -> T | None:
        try:
            async with asyncio.timeout(self.interval):
                return await read
        except Exception as exc:  # keep the last value; the next round tries again
            log.debug("state metrics: could not read %s: %r", what, exc)
            return None
