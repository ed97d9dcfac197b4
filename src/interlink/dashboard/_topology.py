"""The service graph, built from spans.

Nodes are services (that handled a request or a message, or are an edge's end) and broker
destinations. A *sync* edge runs from the caller - the service of
the nearest server or consumer span above a client span, else the client span's own - to the
service of the server span that is its child (or, when that server span was never seen -
a call refused by an open breaker, a timeout - to the service its ``interlink.target``
attribute, or else its ``url.path`` (``/rpc/{service}/{method}``), names). An *async* edge runs from a producer span's caller to its destination
(``publish``), and from that destination to the service of every consumer span that links
back to the producer span (``consume``); the destination comes from the linked producer span
when the dashboard has it, else from the consumer span's own ``messaging.destination.name``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from interlink.dashboard._spans import Span
from interlink.dashboard._stats import Tally

__all__ = ["red", "topology"]

DESTINATION = "messaging.destination.name"
TARGET = "interlink.target"
PATH = "url.path"
MAX_DEPTH = 32
"""How far up a client span's parents the caller's handler is looked for."""

EdgeKey = tuple[str, str, str]


def topology(spans: list[Span], *, now: float, window: float) -> dict[str, Any]:
    """Nodes and edges seen in spans that ended in the last ``window`` seconds."""
    by_id = {s.span_id: s for s in spans}
    servers_under: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        if span.kind == "server" and span.parent_id is not None:
            servers_under[span.parent_id].append(span)
    nodes: dict[str, str] = {}
    edges: dict[EdgeKey, Tally] = defaultdict(Tally)
    for span in spans:
        if span.end < now - window:
            continue
        if span.kind in ("server", "consumer"):  # a service that handles something
            nodes.setdefault(span.service, "service")
        key = _edge(span, by_id, servers_under)
        if key is None:
            continue
        source, target, kind = key
        nodes.setdefault(source, "destination" if kind == "consume" else "service")
        nodes.setdefault(target, "destination" if kind == "publish" else "service")
        edges[key].add(span.duration, span.failed)
    return {
        "window": window,
        "nodes": [{"id": name, "kind": kind} for name, kind in sorted(nodes.items())],
        "edges": [
            {"source": s, "target": t, "kind": k, **tally.summary(window)}
            for (s, t, k), tally in sorted(edges.items())
        ],
    }


def _edge(
    span: Span, by_id: dict[str, Span], servers_under: dict[str, list[Span]]
) -> EdgeKey | None:
    if span.kind == "client":
        caller = _caller(span, by_id)
        served = [s for s in servers_under.get(span.span_id, ()) if s.service != caller]
        if served:
            return (caller, served[0].service, "sync")
        target = _target_service(span)
        return None if target is None else (caller, target, "sync")
    if span.kind == "producer":
        return (_caller(span, by_id), span.text(DESTINATION) or span.name, "publish")
    if span.kind == "consumer":
        destination = _linked_destination(span, by_id) or span.text(DESTINATION)
        return None if destination is None else (destination, span.service, "consume")
    return None


def _target_service(span: Span) -> str | None:
    """The service a client span called, from ``interlink.target`` (``service.method``) or
    ``url.path`` (``/rpc/{service}/{method}``)."""
    target = span.text(TARGET)
    if target and "." in target:
        return target.partition(".")[0]
    path = span.text(PATH) or ""
    if path.startswith("/rpc/") and path.count("/") == 3:
        return path.split("/")[2] or None
    return None


def _caller(span: Span, by_id: dict[str, Span]) -> str:
    """The service whose handler made this call or sent this message: that of the nearest
    server or consumer span above it (a saga step's span names the saga, not the service)."""
    above = by_id.get(span.parent_id) if span.parent_id is not None else None
    for _ in range(MAX_DEPTH):
        if above is None:
            break
        if above.kind in ("server", "consumer"):
            return above.service
        above = by_id.get(above.parent_id) if above.parent_id is not None else None
    return span.service


def _linked_destination(span: Span, by_id: dict[str, Span]) -> str | None:
    """The destination of the producer span this consumer span links (or is a child of)."""
    ids = [link.span_id for link in span.links]
    if span.parent_id is not None:
        ids.append(span.parent_id)
    for span_id in ids:
        producer = by_id.get(span_id)
        if producer is not None and producer.kind == "producer":
            return producer.text(DESTINATION) or producer.name
    return None


def red(spans: list[Span], *, now: float, window: float) -> list[dict[str, Any]]:
    """Rate, errors and duration per service and operation (server and consumer spans)."""
    rows: dict[tuple[str, str, str], Tally] = defaultdict(Tally)
    for span in spans:
        if span.end >= now - window and span.kind in ("server", "consumer"):
            rows[(span.service, span.name, span.kind)].add(span.duration, span.failed)
    return [
        {"service": service, "operation": name, "kind": kind, **tally.summary(window)}
        for (service, name, kind), tally in sorted(rows.items())
    ]
