"""``Telemetry``: the tracer provider, metric registry and span recorder of one running App.

Built by the runtime from the App's :class:`Observe`. With everything off no OpenTelemetry or
Prometheus object exists and the runtime hands no hooks to the call and message paths.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from interlink._errors import ConfigurationError
from interlink.observe._config import Observe

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer
    from prometheus_client import CollectorRegistry

    from interlink._context import Context
    from interlink._envelope import Envelope
    from interlink._handlers import Subscriber
    from interlink.messaging._observer import DeliveryObserver
    from interlink.observe._ids import Ids
    from interlink.observe._messages import Send
    from interlink.observe._metrics import Metrics
    from interlink.observe._recorder import Recorder
    from interlink.observe._span import Spans
    from interlink.saga._runner import StepObserver

__all__ = ["Telemetry"]

_INSTALL = 'pip install "interlink[observe]"'
_OTLP_DEFAULT = "http://127.0.0.1:4318/v1/traces"
_SYSTEMS = {"embedded": "nats", "tls": "nats", "amqp": "rabbitmq", "amqps": "rabbitmq"}


class Telemetry:
    """What one App records. ``tracer_provider``, ``registry`` and ``recorder`` are None when
    their part is off; register your own collectors with ``telemetry.registry.register(c)``."""

    def __init__(self, observe: Observe, services: Sequence[str], broker_url: str) -> None:
        self.observe = observe
        self.services = ",".join(services)
        scheme = broker_url.partition("://")[0]
        self.messaging_system = _SYSTEMS.get(scheme, scheme)
        """``messaging.system``: the conventions' name for the broker where there is one."""
        self.tracer_provider: TracerProvider | None = None
        self.tracer: Tracer | None = None
        self.ids: Ids | None = None
        self.spans: Spans | None = None
        """What starts the call and message spans (``observe/_span.py``), None with tracing off."""
        self.recorder: Recorder | None = None
        self.registry: CollectorRegistry | None = None
        self.metrics: Metrics | None = None
        if observe.traces:
            self._trace()
        if observe.metrics:
            self._measure()

    @property
    def active(self) -> bool:
        return self.tracer is not None or self.metrics is not None

    def _trace(self) -> None:
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as exc:
            raise ConfigurationError(f"tracing needs OpenTelemetry: {_INSTALL}") from exc
        from interlink.observe._ids import Ids
        from interlink.observe._recorder import Recorder
        from interlink.observe._span import Spans

        self.ids = Ids()
        provider = TracerProvider(
            resource=Resource.create({"service.name": self.services}), id_generator=self.ids
        )
        exporter = self._exporter()
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
        if self.observe.recent_spans > 0:
            self.recorder = Recorder(self.observe.recent_spans)
            provider.add_span_processor(self.recorder)
        self.tracer_provider = provider
        self.tracer = provider.get_tracer("interlink")
        self.spans = Spans(provider, self.tracer, self.ids)

    def _exporter(self) -> SpanExporter | None:
        exporter = self.observe.exporter
        if exporter == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            return ConsoleSpanExporter(out=sys.stdout)  # stdout as it is when the App starts
        if exporter == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )
            except ImportError as exc:
                raise ConfigurationError(f"the OTLP exporter needs: {_INSTALL}") from exc
            return OTLPSpanExporter(endpoint=self.observe.otlp_endpoint or _OTLP_DEFAULT)
        return exporter if not isinstance(exporter, str) else None

    def _measure(self) -> None:
        try:
            from prometheus_client import CollectorRegistry
        except ImportError as exc:
            raise ConfigurationError(f"metrics need prometheus-client: {_INSTALL}") from exc
        from interlink.observe._metrics import Metrics

        self.registry = CollectorRegistry(auto_describe=True)
        self.metrics = Metrics(self.registry)

    def dead_letters(
        self, subscriber: Subscriber[Any]
    ) -> Callable[[Envelope | None, Exception], None] | None:
        """What records the dead letters of ``subscriber`` (a span each), None when off."""
        if self.tracer is None:
            return None
        from interlink.observe._messages import dead_letter

        return functools.partial(dead_letter, self, subscriber.topic, subscriber.group or "")

    def deliveries(self, subscriber: Subscriber[Any]) -> DeliveryObserver | None:
        """What makes the receive and settle spans of ``subscriber``'s deliveries, None when
        tracing is off."""
        if self.spans is None:
            return None
        from interlink.observe._deliveries import Deliveries

        group = subscriber.group or ""
        return Deliveries(self, subscriber.topic, group, subscriber.durable)

    def relayed(self) -> Callable[[str, bytes], Send | None] | None:
        """What makes a ``send`` span (and the send metrics) for each event an outbox relay
        publishes, None when off."""
        if not self.active:
            return None
        from interlink.observe._messages import relayed

        return functools.partial(relayed, self)

    def saga_steps(self, make_context: Callable[[str], Context]) -> StepObserver | None:
        """What makes each saga step attempt a span (tracing on), None when off."""
        if self.tracer is None:
            return None
        from interlink.observe._sagas import SagaStep

        return functools.partial(SagaStep, self, make_context)

    # -- what the HTTP endpoints serve -------------------------------------------------------

    def exposition(self) -> bytes | None:
        """The registry in the Prometheus text format; None when metrics are off."""
        if self.registry is None:
            return None
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def recent_spans(self, after: int) -> dict[str, Any] | None:
        """The recorder's spans numbered above ``after``; None when it is off."""
        return None if self.recorder is None else self.recorder.since(after)

    # -- lifecycle -------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Export what is pending and stop the exporters (off the event loop: it blocks)."""
        provider, self.tracer_provider = self.tracer_provider, None
        if provider is not None:
            await asyncio.to_thread(provider.shutdown)

    async def __aenter__(self) -> Telemetry:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
