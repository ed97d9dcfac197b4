"""The live dashboard: a page and a small JSON API over what the running services report
(``GET /metrics``, ``GET /_interlink/spans``), the broker's dead letters and the saga stores."""

from interlink.dashboard._collector import Collector
from interlink.dashboard._operations import SagaSource
from interlink.dashboard._server import Dashboard

__all__ = ["Collector", "Dashboard", "SagaSource"]
