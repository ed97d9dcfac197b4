"""Between interlink's W3C ``traceparent`` strings and OpenTelemetry span contexts."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from opentelemetry.context import Context as OtelContext
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from interlink._tracecontext import parse_traceparent

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from interlink._context import Context
    from interlink.observe._ids import Ids
    from interlink.observe._span import LightSpan

__all__ = [
    "ROOT",
    "SERVING",
    "context_of",
    "parent_of",
    "remote",
    "root_of",
    "span_parent_of",
    "traceparent_of",
]

SERVING: ContextVar[str | None] = ContextVar("interlink_serving_span", default=None)
"""The traceparent of the span whose work runs in this task: a server span while its handler
runs, a process span while a subscriber runs, a saga step's span while the step runs."""

ROOT = OtelContext()
"""No parent: the span starts a trace."""


def remote(traceparent: str | None) -> SpanContext | None:
    """The span a valid ``traceparent`` names (it ran in another process or App)."""
    fields = parse_traceparent(traceparent)
    if fields is None:
        return None
    trace_id, span_id, sampled = fields
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    return SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=flags)


def parent_of(traceparent: str | None) -> OtelContext:
    """A span's parent: the one ``traceparent`` names, or none (a missing or invalid one)."""
    context = remote(traceparent)
    return ROOT if context is None else set_span_in_context(NonRecordingSpan(context), ROOT)


def root_of(traceparent: str | None, ids: Ids | None) -> OtelContext:
    """For work started outside any handler (``app.call``, a script, a saga step): no parent
    span, but the trace keeps the id the context's ``traceparent`` already carries."""
    fields = parse_traceparent(traceparent)
    if fields is not None and ids is not None:
        ids.trace_id = int(fields[0], 16)
    return ROOT


def context_of(ctx: Context, ids: Ids | None) -> OtelContext:
    """The parent of a span for work ``ctx`` sends: the span ``ctx`` runs under, or none for
    a context made outside any handler (``app.context()``), whose trace id is kept."""
    if ctx.envelope is None and ctx.traceparent != SERVING.get():
        return root_of(ctx.traceparent, ids)
    return parent_of(ctx.traceparent)


def span_parent_of(ctx: Context, ids: Ids | None) -> SpanContext | None:
    """``context_of`` as the parent span's ids alone (None: the span starts a trace)."""
    if ctx.envelope is None and ctx.traceparent != SERVING.get():
        root_of(ctx.traceparent, ids)
        return None
    return remote(ctx.traceparent)


def traceparent_of(span: Span | LightSpan) -> str:
    """What interlink sends on for work done under ``span``: its own ids."""
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
