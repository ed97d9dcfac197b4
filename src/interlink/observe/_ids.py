"""Span and trace ids: random, except that a trace interlink already named keeps its id."""

from __future__ import annotations

from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

__all__ = ["Ids"]


class Ids(RandomIdGenerator):
    """A root span started with ``trace_id`` set takes that id (a context made outside any
    handler already carries a trace id in its traceparent): the trace and what interlink
    sends agree. Spans start synchronously on the event loop, so one slot is enough."""

    def __init__(self) -> None:
        self.trace_id = 0

    def generate_trace_id(self) -> int:
        wanted, self.trace_id = self.trace_id, 0
        return wanted or super().generate_trace_id()
