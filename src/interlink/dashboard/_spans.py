"""Finished spans as the services' ``GET /_interlink/spans`` hands them out, and the bounded
buffer the dashboard keeps them in."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import msgspec

__all__ = ["Link", "Span", "SpanBuffer", "decode_page"]

Attribute = str | int | float | bool


class Link(msgspec.Struct, frozen=True):
    trace_id: str
    span_id: str


class Event(msgspec.Struct, frozen=True):
    name: str
    time: float
    attributes: dict[str, Attribute] = {}


class Span(msgspec.Struct, frozen=True, kw_only=True):
    trace_id: str
    span_id: str
    name: str
    kind: str
    service: str
    start: float
    end: float
    parent_id: str | None = None
    status: str = "ok"
    error_type: str | None = None
    attributes: dict[str, Attribute] = {}
    links: list[Link] = []
    events: list[Event] = []

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)

    @property
    def failed(self) -> bool:
        return self.status == "error"

    def text(self, *names: str) -> str | None:
        """The first of these attributes that is set, as text."""
        for name in names:
            value = self.attributes.get(name)
            if value is not None and value != "":
                return str(value)
        return None


class Page(msgspec.Struct):
    next: int
    spans: list[Span]


_page = msgspec.json.Decoder(Page)


def decode_page(raw: bytes) -> Page:
    """One answer of ``GET /_interlink/spans``; raises ``msgspec.DecodeError`` on a bad one."""
    return _page.decode(raw)


class SpanBuffer:
    """The last ``capacity`` spans, by span id (a span seen twice is kept once), oldest first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a span buffer holds at least one span")
        self.capacity = capacity
        self._spans: OrderedDict[str, Span] = OrderedDict()

    def add(self, spans: list[Span]) -> None:
        for span in spans:
            self._spans[span.span_id] = span
        while len(self._spans) > self.capacity:
            self._spans.popitem(last=False)

    def __len__(self) -> int:
        return len(self._spans)

    def all(self) -> list[Span]:
        return list(self._spans.values())

    def since(self, start: float) -> list[Span]:
        return [s for s in self._spans.values() if s.end >= start]


def span_json(span: Span) -> dict[str, Any]:
    encoded: dict[str, Any] = msgspec.to_builtins(span)
    encoded["duration"] = span.duration
    return encoded
