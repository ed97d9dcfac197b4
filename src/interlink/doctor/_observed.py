"""What recorded spans show: the synchronous calls between services (a client span parenting a
server span of another service), each trace's call chains, retries and topics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from interlink.doctor._spans import Span

__all__ = ["Call", "Observed", "observe"]

_TOPIC = "messaging.destination.name"
_RESEND = "http.request.resend_count"
_RETRY_EVENT = "interlink.retry"
_RPC_PREFIX = "/rpc/"
MAX_DEPTH = 1_000
"""Ancestor walks stop here (a malformed export could hold a parent loop)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Call:
    trace_id: str
    caller: str
    """The handler (``service.method``) the client span ran in, or the bare service."""
    caller_service: str
    target: str
    target_service: str
    server_id: str


@dataclass(kw_only=True)
class Observed:
    calls: list[Call] = field(default_factory=list)
    chains: dict[str, list[str]] = field(default_factory=dict)
    """Per trace, its longest chain of synchronous calls: the handlers, caller first."""
    retries: dict[str, int] = field(default_factory=dict)
    """Per trace, the retried calls seen."""
    published: dict[str, set[str]] = field(default_factory=dict)
    """Topic → services seen publishing it (producer spans)."""
    consumed: dict[str, set[str]] = field(default_factory=dict)
    """Topic → services seen consuming it (consumer spans)."""


def label(span: Span) -> str:
    """``service.method`` for an RPC's server span: from its ``http.route`` (or ``url.path``)
    ``/rpc/{service}/{method}`` as interlink records it, else from an ``rpc.method``
    attribute; any other span is ``service:span name`` (a route: ``orders:GET /orders/{id}``)."""
    for key in ("http.route", "url.path"):
        route = span.attributes.get(key)
        if isinstance(route, str) and route.startswith(_RPC_PREFIX):
            service, sep, name = route.removeprefix(_RPC_PREFIX).partition("/")
            if sep and service and name and "/" not in name:
                return f"{service}.{name}"
    method = span.attributes.get("rpc.method")
    if isinstance(method, str) and method:
        return f"{span.service}.{method}"
    if span.name.startswith(f"{span.service}."):
        return span.name
    return f"{span.service}:{span.name}"


def observe(spans: Iterable[Span]) -> Observed:
    by_id = {span.span_id: span for span in spans}
    seen = Observed()
    hops: dict[str, Call] = {}
    for span in by_id.values():
        call = _call(span, by_id)
        if call is not None:
            seen.calls.append(call)
            hops[span.span_id] = call
        _topics(span, seen)
        if _retried(span):
            seen.retries[span.trace_id] = seen.retries.get(span.trace_id, 0) + 1
    for span in by_id.values():
        _linked(span, by_id, seen)
    for call in seen.calls:
        chain = _chain(by_id[call.server_id], by_id, hops)
        best = seen.chains.get(call.trace_id, [])
        if len(chain) > len(best):
            seen.chains[call.trace_id] = chain
    return seen


def _call(span: Span, by_id: dict[str, Span]) -> Call | None:
    if span.kind != "server" or span.parent_id is None:
        return None
    client = by_id.get(span.parent_id)
    if client is None or client.kind != "client" or client.service == span.service:
        return None
    return Call(
        trace_id=span.trace_id,
        caller=_handler(client, by_id),
        caller_service=client.service,
        target=label(span),
        target_service=span.service,
        server_id=span.span_id,
    )


def _handler(span: Span, by_id: dict[str, Span]) -> str:
    current: Span | None = span
    for _ in range(MAX_DEPTH):
        if current is None or current.service != span.service:
            break
        if current.kind in ("server", "consumer"):
            return label(current)
        current = by_id.get(current.parent_id) if current.parent_id else None
    return span.service


def _chain(server: Span, by_id: dict[str, Span], hops: dict[str, Call]) -> list[str]:
    """The handlers from the first synchronous caller down to ``server``."""
    chain = [label(server)]
    current: Span | None = server
    for _ in range(MAX_DEPTH):
        if current is None:
            break
        call = hops.get(current.span_id)
        if call is not None:
            chain.insert(0, call.caller)
        current = by_id.get(current.parent_id) if current.parent_id else None
    # The caller of each hop is the callee of the hop above it: keep each handler once.
    return [h for i, h in enumerate(chain) if i == 0 or h != chain[i - 1]]


def _topics(span: Span, seen: Observed) -> None:
    topic = span.attributes.get(_TOPIC)
    if not isinstance(topic, str) or not topic:
        return
    if span.kind == "producer":
        seen.published.setdefault(topic, set()).add(span.service)
    elif span.kind == "consumer":
        seen.consumed.setdefault(topic, set()).add(span.service)


def _linked(span: Span, by_id: dict[str, Span], seen: Observed) -> None:
    """A consumer span linked to (or parented by) a producer span consumes that producer's
    topic, even when the consumer span does not name it."""
    if span.kind != "consumer":
        return
    sources = [span_id for _, span_id in span.links]
    if span.parent_id is not None:
        sources.append(span.parent_id)
    for span_id in sources:
        producer = by_id.get(span_id)
        topic = producer.attributes.get(_TOPIC) if producer is not None else None
        if producer is not None and producer.kind == "producer" and isinstance(topic, str):
            seen.consumed.setdefault(topic, set()).add(span.service)


def _retried(span: Span) -> bool:
    resent = span.attributes.get(_RESEND)
    if isinstance(resent, int | float) and not isinstance(resent, bool) and resent > 0:
        return True
    return any(name == _RETRY_EVENT or name.startswith("retry") for name in span.events)
