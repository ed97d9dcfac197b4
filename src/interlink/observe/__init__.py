"""Seeing the system: OpenTelemetry traces and Prometheus metrics of calls and messages.

Off by default; ``App(..., observe=Observe(tracing=True, metrics=True))`` or the
``INTERLINK_TRACING`` / ``INTERLINK_METRICS`` environment variables turn it on.
"""

from interlink.observe._config import Observe
from interlink.observe._telemetry import Telemetry

__all__ = ["Observe", "Telemetry"]
