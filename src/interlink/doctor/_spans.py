"""Recorded spans, read from a file or a running service.

Two shapes are read: interlink's own (``GET /_interlink/spans``: ``{"next": n, "spans": [...]}``,
or a bare list of those spans) and an OTLP/JSON trace export (``{"resourceSpans": [...]}``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_SPANS", "Span", "SpanError", "load_spans", "parse_spans"]

MAX_SPANS = 200_000
"""More spans than this in one run is refused (the analysis holds them all in memory)."""
MAX_PAGES = 1_000
_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
Attributes = Mapping[str, Any]


class SpanError(Exception):
    """A trace source that cannot be read or is not in a known shape."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    service: str
    status: str = "ok"
    attributes: Attributes = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()
    events: tuple[str, ...] = ()
    """The names of the span's events."""


def load_spans(source: str, *, timeout: float = 10.0) -> list[Span]:
    """Spans from a JSON file, or from ``http(s)://host:port`` (its ``/_interlink/spans``)."""
    if source.startswith(("http://", "https://")):
        return _fetch(source, timeout)
    try:
        with open(source, encoding="utf-8") as file:
            document = json.load(file)
    except (OSError, ValueError) as exc:
        raise SpanError(f"cannot read traces from {source}: {exc}") from None
    return parse_spans(document)


def parse_spans(document: Any) -> list[Span]:
    if isinstance(document, dict) and "resourceSpans" in document:
        spans = list(_otlp(document["resourceSpans"]))
    elif isinstance(document, dict) and isinstance(document.get("spans"), list):
        spans = [_own(raw) for raw in document["spans"]]
    elif isinstance(document, list):
        spans = [_own(raw) for raw in document]
    else:
        raise SpanError("expected {'spans': [...]}, a list of spans, or {'resourceSpans': [...]}")
    if len(spans) > MAX_SPANS:
        raise SpanError(f"{len(spans)} spans is over the limit of {MAX_SPANS}")
    return spans


def _fetch(url: str, timeout: float) -> list[Span]:
    base = url.rstrip("/")
    if not base.endswith("/_interlink/spans"):
        base += "/_interlink/spans"
    spans: list[Span] = []
    after = 0
    for _ in range(MAX_PAGES):
        try:
            with urllib.request.urlopen(f"{base}?after={after}", timeout=timeout) as response:
                page = json.load(response)
        except (OSError, ValueError) as exc:
            raise SpanError(f"cannot read traces from {url}: {exc}") from None
        batch = parse_spans(page)
        spans.extend(batch)
        following = page.get("next", after) if isinstance(page, dict) else after
        if not batch or following == after or len(spans) > MAX_SPANS:
            break
        after = following
    if len(spans) > MAX_SPANS:
        raise SpanError(f"{url} has more than {MAX_SPANS} spans")
    return spans


def _own(raw: Any) -> Span:
    try:
        return Span(
            trace_id=str(raw["trace_id"]),
            span_id=str(raw["span_id"]),
            parent_id=raw.get("parent_id") or None,
            name=str(raw.get("name", "")),
            kind=str(raw.get("kind", "internal")),
            service=str(raw.get("service", "")),
            status=str(raw.get("status", "ok")),
            attributes=dict(raw.get("attributes") or {}),
            links=tuple((str(k["trace_id"]), str(k["span_id"])) for k in raw.get("links") or ()),
            events=tuple(str(e.get("name", "")) for e in raw.get("events") or ()),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise SpanError(f"a span lacks a field or has the wrong shape: {exc!r}") from None


def _otlp(resource_spans: Any) -> Any:
    try:
        for resource in resource_spans:
            owner = _attributes(resource.get("resource", {}).get("attributes", []))
            for scope in resource.get("scopeSpans", []):
                for raw in scope.get("spans", []):
                    yield _otlp_span(raw, owner)
    except (KeyError, TypeError, AttributeError) as exc:
        raise SpanError(f"an OTLP span has the wrong shape: {exc!r}") from None


def _otlp_span(raw: Any, owner: Attributes) -> Span:
    attributes = _attributes(raw.get("attributes", []))
    service = attributes.get("interlink.service") or owner.get("service.name", "")
    kind = raw.get("kind", 1)
    if isinstance(kind, str):
        kind = kind.removeprefix("SPAN_KIND_").lower()
    status = raw.get("status", {}).get("code", 0)
    return Span(
        trace_id=raw["traceId"],
        span_id=raw["spanId"],
        parent_id=raw.get("parentSpanId") or None,
        name=raw.get("name", ""),
        kind=_KINDS.get(kind, "internal") if isinstance(kind, int) else kind,
        service=str(service),
        status="error" if status in (2, "STATUS_CODE_ERROR") else "ok",
        attributes=attributes,
        links=tuple((k["traceId"], k["spanId"]) for k in raw.get("links", [])),
        events=tuple(e.get("name", "") for e in raw.get("events", [])),
    )


def _attributes(pairs: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        value = pair.get("value", {})
        for kind in ("stringValue", "intValue", "doubleValue", "boolValue"):
            if kind in value:
                found[pair["key"]] = int(value[kind]) if kind == "intValue" else value[kind]
    return found
