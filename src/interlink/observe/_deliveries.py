"""The consumer's side of a message with the broker: ``receive`` (a delivery taken from the
subscription and decoded) and ``settle`` (the broker told it is done: ack, nack, term), each a
CLIENT span in the message's trace.

Both are children of the producer's ``create`` span and link to it, as the ``process`` span is
(``observe/_messages.py``). A delivery whose envelope could not be decoded has no producer to
continue: its spans start a trace of their own and carry no message id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from interlink.observe._trace import remote

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from interlink._envelope import Envelope
    from interlink.observe._span import LightSpan
    from interlink.observe._telemetry import Telemetry

__all__ = ["Deliveries", "settle_name"]

_BROKER_NAMES: dict[str, dict[str, str]] = {
    "nats": {"nack": "nak"},  # JetStream's -NAK
    "redis": {"term": "ack"},  # XACK either way
    "rabbitmq": {"term": "ack"},  # basic.ack: the dead letter was written by interlink
    "kafka": {"term": "ack"},  # the offset is committed either way
}


def settle_name(system: str, how: str) -> str:
    """``messaging.operation.name`` of a settlement: the broker's own name for it."""
    return _BROKER_NAMES.get(system, {}).get(how, how)


class Deliveries:
    """Makes the receive and settle spans of one subscriber's deliveries."""

    __slots__ = ("_durable", "_group", "_telemetry", "_topic")

    def __init__(self, telemetry: Telemetry, topic: str, group: str, durable: bool) -> None:
        self._telemetry = telemetry
        self._topic = topic
        self._group = group
        self._durable = durable

    def _start(
        self, operation: str, kind: str, envelope: Envelope | None, start_time: int | None
    ) -> Span | LightSpan:
        telemetry = self._telemetry
        spans = telemetry.spans
        assert spans is not None  # made only with tracing on
        attributes: dict[str, str | int] = {
            "messaging.system": telemetry.messaging_system,
            "messaging.operation.name": operation,
            "messaging.operation.type": kind,
            "messaging.destination.name": self._topic,
            "messaging.consumer.group.name": self._group,
        }
        producer = None
        if envelope is not None:
            attributes["messaging.message.id"] = envelope.id
            attributes["messaging.message.conversation_id"] = envelope.correlationid or envelope.id
            producer = remote(envelope.traceparent)
        links = () if producer is None else (Link(producer),)
        name = f"{operation} {self._topic}"
        return spans.start(name, SpanKind.CLIENT, producer, attributes, links, start_time)

    def received(self, envelope: Envelope | None, started: int, attempt: int) -> None:
        """A ``receive`` span from ``started`` (``time.time_ns()`` when the consumer took the
        delivery) to now, when it is decoded (``envelope`` None: it could not be)."""
        span = self._start("receive", "receive", envelope, started)
        span.set_attribute("messaging.message.delivery_attempt", attempt)
        if envelope is None:
            span.set_attribute("error.type", "CodecError")
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def settling(self, envelope: Envelope | None, how: str, delay: float) -> Settle | None:
        """The span of one settlement (``how``: ``ack``, ``nack`` or ``term``); None for a
        non-durable subscription, which settles nothing with the broker."""
        if not self._durable:
            return None
        operation = settle_name(self._telemetry.messaging_system, how)
        span = self._start(operation, "settle", envelope, None)
        span.set_attribute("interlink.settle", how)
        if how == "nack":
            span.set_attribute("interlink.settle.delay_ms", round(delay * 1000))
        return Settle(span)


class Settle:
    """One settlement in progress: ended when the broker answered (or failed)."""

    __slots__ = ("_span",)

    def __init__(self, span: Span | LightSpan) -> None:
        self._span = span

    def finish(self, error: BaseException | None) -> None:
        span = self._span
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
        span.end()
