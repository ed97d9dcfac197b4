"""Call and message spans started without ``Tracer.start_span``: SDK ``ReadableSpan``s filled
directly.

A call makes two spans (client and server), an event up to three (create, send, process); their
parents are ids interlink already holds and their attributes a handful it knows to be valid. The
SDK's generic path pays for what that does not need: an OpenTelemetry context to find the parent
in, the sampler's call, attribute validation in locked containers, a lock per span and a copy of
the span when it ends. With the provider's sampler the SDK default (``ParentBased(ALWAYS_ON)``),
``Spans.start`` takes the same decisions itself and makes a ``LightSpan``: a ``ReadableSpan``
that the provider's span processors receive at start and at end like any other, so exporters,
the batch processor and the recent-spans recorder see no difference. With any other sampler
(``OTEL_TRACES_SAMPLER`` naming another), every span goes through ``Tracer.start_span``.

A ``LightSpan`` is made, changed and ended on one thread (the App's event loop) and holds only
the str and int attributes interlink sets, so it has no lock and checks no values.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.sampling import DEFAULT_ON
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    TraceFlags,
    set_span_in_context,
)

from interlink.observe._trace import ROOT

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.trace import Link, Span, Tracer

    from interlink.observe._ids import Ids

__all__ = ["LightSpan", "Spans"]

_SAMPLED = TraceFlags.SAMPLED
_RANDOM = TraceFlags.RANDOM_TRACE_ID
_ROOT_FLAGS = TraceFlags(_SAMPLED | _RANDOM)
"""A trace interlink starts is sampled, its id random (as the SDK marks it)."""


class Spans:
    """Starts the call spans of one tracer provider."""

    __slots__ = ("_ids", "_processor", "_resource", "_scope", "_tracer", "light")

    def __init__(self, provider: TracerProvider, tracer: Tracer, ids: Ids) -> None:
        self._tracer = tracer
        self._ids = ids
        self.light = provider.sampler is DEFAULT_ON
        """Whether spans are made here (the default sampler) or by ``Tracer.start_span``."""
        self._processor: SpanProcessor = getattr(tracer, "span_processor")  # noqa: B009
        self._resource = provider.resource
        self._scope = getattr(tracer, "_instrumentation_scope", None)

    def start(
        self,
        name: str,
        kind: SpanKind,
        parent: SpanContext | None,
        attributes: dict[str, str | int],
        links: tuple[Link, ...] = (),
        start_time: int | None = None,
    ) -> Span | LightSpan:
        """A span named ``name``, the child of ``parent`` (None: it starts a trace), started
        at ``start_time`` (``time.time_ns()``; None: now)."""
        if not self.light:
            otel = ROOT if parent is None else set_span_in_context(NonRecordingSpan(parent), ROOT)
            return self._tracer.start_span(name, otel, kind, attributes, links, start_time)
        ids = self._ids
        if parent is None or not parent.is_valid:
            parent = None
            flags = _ROOT_FLAGS
            trace_id = ids.generate_trace_id()
            state = None
        else:  # ParentBased: sampled exactly when the parent is
            trace_id = parent.trace_id
            flags = TraceFlags(parent.trace_flags & (_SAMPLED | _RANDOM))
            state = parent.trace_state
        context = SpanContext(trace_id, ids.generate_span_id(), False, flags, state)
        if not flags & _SAMPLED:
            return NonRecordingSpan(context)
        span = LightSpan(
            name=name,
            context=context,
            parent=parent,
            resource=self._resource,
            attributes=attributes,
            events=[],
            links=links,
            kind=kind,
            start_time=time.time_ns() if start_time is None else start_time,
            instrumentation_scope=self._scope,
        )
        span.processor = self._processor
        self._processor.on_start(span, None)  # type: ignore[arg-type]
        return span


class LightSpan(ReadableSpan):
    """A recording span that is its own ``ReadableSpan`` (no copy when it ends).

    Invariant: changed only until ``end``; ended once (later calls are ignored, as the SDK's).
    """

    processor: SpanProcessor

    def set_attribute(self, key: str, value: Any) -> None:
        if self._end_time is None:
            self._attributes[key] = value  # type: ignore[index]

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        if self._end_time is None:
            self._attributes.update(attributes)  # type: ignore[union-attr]

    def add_event(self, name: str, attributes: dict[str, Any] | None = None) -> None:
        if self._end_time is None:
            self._events.append(Event(name, attributes, time.time_ns()))  # type: ignore[attr-defined]

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(self, status: Status) -> None:
        if self._end_time is None:
            self._status = status

    def get_span_context(self) -> SpanContext:
        context = self._context
        assert context is not None  # Spans.start always gives one
        return context

    def is_recording(self) -> bool:
        return self._end_time is None

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time if end_time is not None else time.time_ns()
        processor = self.processor
        processor._on_ending(self)  # type: ignore[arg-type]
        processor.on_end(self)
