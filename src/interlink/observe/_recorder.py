"""The last N finished spans, for ``GET /_interlink/spans`` (the dashboard reads it)."""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

if TYPE_CHECKING:
    from opentelemetry.context import Context as OtelContext
    from opentelemetry.sdk.trace import Span

__all__ = ["Recorder", "span_json"]

_KINDS = {
    SpanKind.CLIENT: "client",
    SpanKind.SERVER: "server",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
    SpanKind.INTERNAL: "internal",
}


class Recorder(SpanProcessor):
    """A span processor keeping the last ``size`` finished spans, each numbered in order.

    Invariant: ``_spans`` holds at most ``size`` entries, their numbers increasing by one.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._spans: deque[tuple[int, ReadableSpan]] = deque(maxlen=size)
        self._seq = 0
        self._lock = threading.Lock()  # the SDK may end spans on other threads

    def on_start(self, span: Span, parent_context: OtelContext | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            self._seq += 1
            self._spans.append((self._seq, span))

    def since(self, after: int) -> dict[str, Any]:
        """``{"next": n, "spans": [...]}``: the kept spans numbered above ``after``, oldest
        first; pass ``next`` as ``after`` to get only newer ones next time."""
        with self._lock:
            kept = [span for seq, span in self._spans if seq > after]
            seq = self._seq
        return {"next": seq, "spans": [span_json(span) for span in kept]}

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def span_json(span: ReadableSpan) -> dict[str, Any]:
    context = span.context
    parent = span.parent
    attributes = dict(span.attributes or {})
    resource = span.resource.attributes.get("service.name")
    service = attributes.get("interlink.service", resource)
    failed = span.status.status_code is StatusCode.ERROR
    error = attributes.get("error.type")
    return {
        "trace_id": f"{context.trace_id:032x}" if context else None,
        "span_id": f"{context.span_id:016x}" if context else None,
        "parent_id": None if parent is None else f"{parent.span_id:016x}",
        "name": span.name,
        "kind": _KINDS.get(span.kind, "internal"),
        "service": None if service is None else str(service),
        "start": (span.start_time or 0) / 1e9,
        "end": (span.end_time or 0) / 1e9,
        "status": "error" if failed else "ok",
        "error_type": None if error is None else str(error),
        "attributes": {k: _scalar(v) for k, v in attributes.items()},
        "links": [
            {"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}"}
            for link in span.links
        ],
        "events": [
            {
                "name": event.name,
                "time": event.timestamp / 1e9,
                "attributes": {k: _scalar(v) for k, v in (event.attributes or {}).items()},
            }
            for event in span.events
        ],
    }


def _scalar(value: Any) -> str | int | float | bool:
    if isinstance(value, (str, int, float, bool)):
        return value
    return ",".join(str(v) for v in value)
