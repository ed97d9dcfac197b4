"""The gateway cache's memory: stored responses by URL and Vary values, least recently used
evicted first, bounded by entry count and by bytes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CacheStore", "Entry"]

Header = tuple[bytes, bytes]
MAX_VARIANTS = 8
"""Variants (distinct Vary values) kept per URL; the oldest goes first."""


@dataclass(slots=True)
class Entry:
    """One stored response. ``stored_at`` is on the cache's monotonic clock; ``age`` is the
    Age the upstream reported; ``vary`` pairs each Vary-named request header with the value
    the stored response was chosen for."""

    status: int
    headers: list[Header]
    body: bytes
    stored_at: float
    age: float
    lifetime: float
    etag: bytes | None
    revalidate: bool
    vary: tuple[tuple[bytes, bytes | None], ...]

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(n) + len(v) for n, v in self.headers)

    def current_age(self, now: float) -> float:
        return self.age + max(0.0, now - self.stored_at)

    def fresh(self, now: float) -> bool:
        return not self.revalidate and self.current_age(now) < self.lifetime

    def serves(self, request: Mapping[bytes, bytes]) -> bool:
        """Whether this variant answers ``request`` (its Vary-named headers are the same)."""
        return all(request.get(name) == value for name, value in self.vary)


class CacheStore:
    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.entries = 0
        self.bytes = 0
        self._urls: OrderedDict[bytes, list[Entry]] = OrderedDict()

    def lookup(self, url: bytes, request: Mapping[bytes, bytes]) -> Entry | None:
        variants = self._urls.get(url)
        if variants is None:
            return None
        self._urls.move_to_end(url)
        for entry in variants:
            if entry.serves(request):
                return entry
        return None

    def put(self, url: bytes, entry: Entry) -> None:
        if entry.size > self.max_bytes:
            return
        variants = self._urls.setdefault(url, [])
        self._urls.move_to_end(url)
        for old in [v for v in variants if v.vary == entry.vary]:
            self._drop(variants, old)
        variants.insert(0, entry)
        self.entries += 1
        self.bytes += entry.size
        if len(variants) > MAX_VARIANTS:
            self._drop(variants, variants[-1])
        while self.entries > self.max_entries or self.bytes > self.max_bytes:
            oldest_url, oldest = next(iter(self._urls.items()))
            self._drop(oldest, oldest[-1])
            if not oldest:
                del self._urls[oldest_url]

    def resize(self, entry: Entry, before: int) -> None:
        """Account for an entry whose headers were replaced in place (a revalidation)."""
        self.bytes += entry.size - before

    def invalidate(self, url: bytes) -> None:
        for entry in self._urls.pop(url, []):
            self.entries -= 1
            self.bytes -= entry.size

    def _drop(self, variants: list[Entry], entry: Entry) -> None:
        variants.remove(entry)
        self.entries -= 1
        self.bytes -= entry.size
