"""Observations of messages: create (when an event is made), send (the broker publish),
process (one run of a subscriber's handler) and dead letters, each a span, a metric, or both.

The consumer's process span is a child of the producer's create span (so one trace holds the
whole flow) and also links to it, as the messaging conventions suggest for consumers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from interlink._envelope import Envelope
from interlink._errors import CodecError
from interlink._rfc3339 import parse_time
from interlink.observe._trace import parent_of, remote, span_parent_of, traceparent_of

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from interlink._context import Context
    from interlink.observe._span import LightSpan
    from interlink.observe._telemetry import Telemetry

__all__ = ["Process", "Send", "create", "dead_letter", "relayed"]

Attributes = dict[str, str | int]


def _attributes(
    telemetry: Telemetry, operation: str, kind: str, topic: str, envelope: Envelope
) -> Attributes:
    return {
        "messaging.system": telemetry.messaging_system,
        "messaging.operation.name": operation,
        "messaging.operation.type": kind,
        "messaging.destination.name": topic,
        "messaging.message.id": envelope.id,
        "messaging.message.conversation_id": envelope.correlationid or envelope.id,
    }


def create(telemetry: Telemetry, parent: Context, topic: str, envelope: Envelope) -> None:
    """A PRODUCER span ``create {topic}`` under the publishing handler's span; the event
    carries its ids in ``traceparent``, so consumers continue from it."""
    spans = telemetry.spans
    if spans is None:
        return
    attributes = _attributes(telemetry, "create", "create", topic, envelope)
    attributes["interlink.service"] = parent.service
    context = span_parent_of(parent, telemetry.ids)
    span = spans.start(f"create {topic}", SpanKind.PRODUCER, context, attributes)
    envelope.traceparent = traceparent_of(span)
    span.end()


class Send:
    """Publishing one event to the broker: a CLIENT span ``send {topic}`` (a child of the
    create span), the operation's duration and, once acknowledged, the sent counter."""

    __slots__ = ("_metered", "_span", "_started", "_telemetry", "_topic")

    def __init__(
        self, telemetry: Telemetry, topic: str, envelope: Envelope, *, metered: bool = True
    ) -> None:
        """``metered``: also record the send metrics (not for a request: its span lasts until
        the reply)."""
        self._telemetry = telemetry
        self._metered = metered
        self._topic = topic
        self._span: Span | LightSpan | None = None
        spans = telemetry.spans
        if spans is not None:
            attributes = _attributes(telemetry, "send", "send", topic, envelope)
            parent = remote(envelope.traceparent)
            self._span = spans.start(f"send {topic}", SpanKind.CLIENT, parent, attributes)
        self._started = time.perf_counter()

    def finish(self, error: BaseException | None) -> None:
        elapsed = time.perf_counter() - self._started
        error_type = "" if error is None else type(error).__name__
        span = self._span
        if span is not None:
            if error is not None:
                span.set_attribute("error.type", error_type)
                span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
            span.end()
        metrics = self._telemetry.metrics
        if metrics is not None and self._metered:
            system = self._telemetry.messaging_system
            metrics.operation_duration.labels(system, "send", self._topic, error_type).observe(
                elapsed
            )
            if error is None:
                metrics.sent.labels(system, self._topic).inc()


def relayed(telemetry: Telemetry, topic: str, body: bytes) -> Send | None:
    """The ``send`` of one outbox row (``body`` is its envelope), None when it cannot be
    decoded (nothing to put in the trace)."""
    try:
        envelope = Envelope.from_bytes(body)
    except CodecError:
        return None
    return Send(telemetry, topic, envelope)


class Process:
    """One run of a subscriber's handler: a CONSUMER span ``process {topic}``, child of and
    linked to the producer's create span; the process duration, the consumed counter and,
    when it succeeds, the end-to-end latency from the event's ``time``."""

    __slots__ = ("_envelope", "_group", "_span", "_started", "_telemetry", "_topic", "traceparent")

    def __init__(
        self, telemetry: Telemetry, envelope: Envelope, topic: str, group: str, service: str
    ) -> None:
        self._telemetry = telemetry
        self._envelope = envelope
        self._topic = topic
        self._group = group
        self.traceparent: str | None = None
        self._span: Span | LightSpan | None = None
        spans = telemetry.spans
        if spans is not None:
            attributes = _attributes(telemetry, "process", "process", topic, envelope)
            attributes["messaging.consumer.group.name"] = group
            attributes["interlink.service"] = service
            producer = remote(envelope.traceparent)
            links = () if producer is None else (Link(producer),)
            span = spans.start(f"process {topic}", SpanKind.CONSUMER, producer, attributes, links)
            self._span = span
            self.traceparent = traceparent_of(span)
        self._started = time.perf_counter()

    def finish(self, error: BaseException | None) -> None:
        elapsed = time.perf_counter() - self._started
        error_type = "" if error is None else type(error).__name__
        span = self._span
        if span is not None:
            if error is not None:
                span.set_attribute("error.type", error_type)
                span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
            span.end()
        metrics = self._telemetry.metrics
        if metrics is None:
            return
        system, topic, group = self._telemetry.messaging_system, self._topic, self._group
        metrics.process_duration.labels(system, topic, group, error_type).observe(elapsed)
        metrics.consumed.labels(system, topic, group).inc()
        published = self._envelope.time
        if error is None and published is not None:
            try:
                latency = time.time() - parse_time(published)
            except CodecError:
                return
            metrics.end_to_end.labels(topic, group).observe(max(0.0, latency))


def dead_letter(
    telemetry: Telemetry, topic: str, group: str, envelope: Envelope | None, error: Exception
) -> None:
    """An INTERNAL span ``dead_letter {topic}`` with an ``interlink.dead_letter`` event, in the
    trace of the message (a message that could not be decoded starts a trace of its own)."""
    tracer = telemetry.tracer
    if tracer is None:
        return
    attributes: Attributes = {
        "messaging.system": telemetry.messaging_system,
        "messaging.operation.name": "dead_letter",
        "messaging.operation.type": "settle",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": group,
        "error.type": type(error).__name__,
    }
    if envelope is not None:
        attributes["messaging.message.id"] = envelope.id
    traceparent = None if envelope is None else envelope.traceparent
    span = tracer.start_span(
        f"dead_letter {topic}", parent_of(traceparent), SpanKind.INTERNAL, attributes
    )
    span.add_event("interlink.dead_letter", {"error.type": type(error).__name__})
    span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
    span.end()
