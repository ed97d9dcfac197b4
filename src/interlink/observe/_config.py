"""``Observe``: what an App records about its calls and messages. Everything is off by default."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from interlink._errors import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["Observe"]

_ON = frozenset({"1", "true", "yes", "on"})


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Observe:
    """Tracing (OpenTelemetry), metrics (Prometheus) and the recent-spans buffer of one App.

    ``exporter`` sends finished spans on: ``"console"`` (stdout), ``"otlp"`` (OTLP over
    HTTP/protobuf to ``otlp_endpoint``), a ``SpanExporter`` of your own, or None (spans are
    still made, for ``recent_spans`` and for the traceparent the App sends on).
    ``recent_spans`` keeps the last N finished spans for ``GET /_interlink/spans``; a positive
    value turns tracing on.
    """

    tracing: bool = False
    exporter: Literal["console", "otlp"] | SpanExporter | None = None
    otlp_endpoint: str | None = None
    metrics: bool = False
    recent_spans: int = 0

    def __post_init__(self) -> None:
        if self.recent_spans < 0:
            raise ConfigurationError(f"recent_spans must be 0 or more, not {self.recent_spans}")
        if isinstance(self.exporter, str) and self.exporter not in ("console", "otlp"):
            raise ConfigurationError(
                f"exporter is 'console', 'otlp' or a SpanExporter, not {self.exporter!r}"
            )

    @property
    def traces(self) -> bool:
        """Spans are made: tracing asked for, or recent spans kept."""
        return self.tracing or self.recent_spans > 0

    @property
    def enabled(self) -> bool:
        return self.traces or self.metrics

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Observe:
        """``INTERLINK_TRACING=1``, ``INTERLINK_METRICS=1``, ``INTERLINK_RECENT_SPANS=<n>`` and
        ``INTERLINK_OTLP_ENDPOINT=<url>`` (which also selects the OTLP exporter)."""
        env = os.environ if environ is None else environ
        endpoint = env.get("INTERLINK_OTLP_ENDPOINT") or None
        recent = env.get("INTERLINK_RECENT_SPANS", "").strip() or "0"
        try:
            recent_spans = int(recent)
        except ValueError:
            raise ConfigurationError(
                f"INTERLINK_RECENT_SPANS must be a number, not {recent!r}"
            ) from None
        return cls(
            tracing=env.get("INTERLINK_TRACING", "").strip().lower() in _ON,
            exporter="otlp" if endpoint is not None else None,
            otlp_endpoint=endpoint,
            metrics=env.get("INTERLINK_METRICS", "").strip().lower() in _ON,
            recent_spans=recent_spans,
        )
