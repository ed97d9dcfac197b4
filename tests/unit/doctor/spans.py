"""Recorded spans for the trace-based rules, built the way a traced system records them."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)


def _id(width: int) -> str:
    return f"{next(_ids):0{width}x}"


class Trace:
    """``t = Trace(); root = t.server("a.x"); t.call(root, "b.y")`` → spans in the ``/_interlink/spans``
    shape: each call is a client span in the caller's service parenting a server span."""

    def __init__(self) -> None:
        self.trace_id = _id(32)
        self.spans: list[dict[str, Any]] = []

    def span(
        self, kind: str, service: str, name: str, parent: str | None, **attributes: Any
    ) -> str:
        span_id = _id(16)
        self.spans.append(
            {
                "trace_id": self.trace_id,
                "span_id": span_id,
                "parent_id": parent,
                "name": name,
                "kind": kind,
                "service": service,
                "start": 1.0,
                "end": 2.0,
                "status": "ok",
                "error_type": None,
                "attributes": attributes,
                "links": [],
                "events": [],
            }
        )
        return span_id

    def server(self, target: str, parent: str | None = None) -> str:
        """An RPC served, as interlink records it: ``POST /rpc/{service}/{method}``."""
        service, method = target.split(".")
        route = f"/rpc/{service}/{method}"
        attributes = {"http.request.method": "POST", "http.route": route}
        return self.span("server", service, f"POST {route}", parent, **attributes)

    def call(self, caller: str, target: str, **client_attributes: Any) -> str:
        """A call from the handler span ``caller`` to ``target``; returns the callee's span."""
        service = next(s["service"] for s in self.spans if s["span_id"] == caller)
        path = "/rpc/" + target.replace(".", "/")
        attributes = {"http.request.method": "POST", "url.path": path, **client_attributes}
        client = self.span("client", service, f"POST {path}", caller, **attributes)
        return self.server(target, client)

    def events(self, span_id: str, *names: str) -> None:
        """Give the span ``span_id`` events with these names."""
        span = next(s for s in self.spans if s["span_id"] == span_id)
        span["events"] = [{"name": name, "time": 1.5, "attributes": {}} for name in names]

    def parent(self, span_id: str) -> str:
        return str(next(s["parent_id"] for s in self.spans if s["span_id"] == span_id))


def chain(*targets: str) -> list[dict[str, Any]]:
    trace = Trace()
    span = trace.server(targets[0])
    for target in targets[1:]:
        span = trace.call(span, target)
    return trace.spans


def fan(caller: str, targets: list[str], repeat: int = 1) -> list[dict[str, Any]]:
    trace = Trace()
    root = trace.server(caller)
    for _ in range(repeat):
        for target in targets:
            trace.call(root, target)
    return trace.spans


def retried(n: int, *, count: bool = True, event: bool = True) -> list[dict[str, Any]]:
    """One trace with ``n`` retried calls: each client span with a resend count and an
    ``interlink.retry`` event, as interlink records them (or only one of the two)."""
    trace = Trace()
    root = trace.server("a.x")
    for i in range(n):
        resent = {"http.request.resend_count": i + 1} if count else {}
        server = trace.call(root, "b.y", **resent)
        if event:
            trace.events(trace.parent(server), "interlink.retry")
    return trace.spans


def messaging(topic: str, *, consumed: bool) -> list[dict[str, Any]]:
    trace = Trace()
    root = trace.server("a.x")
    producer = trace.span(
        "producer", "a", f"create {topic}", root, **{"messaging.destination.name": topic}
    )
    if consumed:
        trace.span(
            "consumer", "b", f"process {topic}", producer, **{"messaging.destination.name": topic}
        )
    return trace.spans


def linked(topic: str) -> list[dict[str, Any]]:
    """A producer span, and in another trace a consumer span that links to it (no topic)."""
    trace = Trace()
    root = trace.server("a.x")
    attributes = {"messaging.destination.name": topic}
    producer = trace.span("producer", "a", f"create {topic}", root, **attributes)
    consumer = Trace()
    consumer.span("consumer", "b", f"process {topic}", None)
    consumer.spans[0]["links"] = [{"trace_id": trace.trace_id, "span_id": producer}]
    return trace.spans + consumer.spans


def to_otlp(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """The same spans as an OTLP/JSON export: one resource per service."""
    kinds = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
    by_service: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        by_service.setdefault(s["service"], []).append(
            {
                "traceId": s["trace_id"],
                "spanId": s["span_id"],
                "parentSpanId": s["parent_id"] or "",
                "name": s["name"],
                "kind": kinds[s["kind"]],
                "startTimeUnixNano": "1000000000",
                "endTimeUnixNano": "2000000000",
                "attributes": [
                    {
                        "key": k,
                        "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v},
                    }
                    for k, v in s["attributes"].items()
                ],
                "status": {"code": 1},
            }
        )
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": name}}]
                },
                "scopeSpans": [{"scope": {"name": "interlink"}, "spans": found}],
            }
            for name, found in by_service.items()
        ]
    }
