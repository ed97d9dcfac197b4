"""Traces: the recent ones, and one request across services and events as a waterfall.

A consumer span usually starts a trace of its own and *links* the producer span that sent the
message; the waterfall of a trace therefore also takes in the traces whose spans link into it
(transitively, up to ``MAX_TRACES`` traces), drawing each linked span under the span it links.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from interlink.dashboard._spans import Span, span_json

__all__ = ["MAX_TRACES", "recent_traces", "waterfall"]

MAX_TRACES = 20


def recent_traces(spans: list[Span], *, limit: int = 50) -> list[dict[str, Any]]:
    """The newest traces first: root span, services, span count, errors, duration."""
    traces: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    rows: list[dict[str, Any]] = []
    for trace_id, members in traces.items():
        ids = {s.span_id for s in members}
        roots = [s for s in members if s.parent_id is None or s.parent_id not in ids]
        root = min(roots or members, key=lambda s: s.start)
        start = min(s.start for s in members)
        rows.append(
            {
                "trace_id": trace_id,
                "name": root.name,
                "service": root.service,
                "start": start,
                "duration": max(s.end for s in members) - start,
                "spans": len(members),
                "errors": sum(s.failed for s in members),
                "services": sorted({s.service for s in members}),
            }
        )
    rows.sort(key=lambda r: float(r["start"]), reverse=True)
    return rows[:limit]


def waterfall(spans: list[Span], trace_id: str) -> list[dict[str, Any]]:
    """Every span of the trace and of the traces linked to it, in start order, each with the
    span it hangs under (``parent``: its parent, else the span it links) and its depth."""
    by_trace: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    chosen = _linked_traces(by_trace, trace_id)
    members = [s for t in chosen for s in by_trace[t]]
    ids = {s.span_id for s in members}
    parent: dict[str, str | None] = {}
    for span in members:
        above = span.parent_id if span.parent_id in ids else None
        if above is None:
            above = next((link.span_id for link in span.links if link.span_id in ids), None)
        parent[span.span_id] = above
    ordered = sorted(members, key=lambda s: s.start)
    return [
        {**span_json(s), "parent": parent[s.span_id], "depth": _depth(s.span_id, parent)}
        for s in ordered
    ]


def _linked_traces(by_trace: dict[str, list[Span]], trace_id: str) -> list[str]:
    chosen = [trace_id] if trace_id in by_trace else []
    frontier = set(chosen)
    while frontier and len(chosen) < MAX_TRACES:
        inside = {s.span_id for t in frontier for s in by_trace[t]}
        linking = {
            other
            for other, members in by_trace.items()
            if other not in chosen
            and any(link.span_id in inside for s in members for link in s.links)
        }
        frontier = set(sorted(linking)[: MAX_TRACES - len(chosen)])
        chosen.extend(sorted(frontier))
    return chosen


def _depth(span_id: str, parent: dict[str, str | None]) -> int:
    depth, seen = 0, {span_id}
    above = parent.get(span_id)
    while above is not None and above not in seen:
        seen.add(above)
        depth += 1
        above = parent.get(above)
    return depth
