"""``GET /metrics`` (Prometheus text format) and ``GET /_interlink/spans`` (recent spans).

Served only when the App's telemetry has the part on; otherwise the paths are 404 like any
other unknown path.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from interlink.transport.http._routing import JsonRoute

__all__ = ["Exposition", "observe_routes"]

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Exposition(Protocol):
    """What the observe endpoints ask of the App's telemetry."""

    def exposition(self) -> bytes | None:
        """The metrics in the Prometheus text format, None when metrics are off."""
        ...

    def recent_spans(self, after: int) -> dict[str, Any] | None:
        """``{"next": n, "spans": [...]}`` after ``after``, None when no spans are kept."""
        ...


def observe_routes(telemetry: Exposition) -> list[JsonRoute]:
    routes: list[JsonRoute] = []
    if telemetry.exposition() is not None:

        async def metrics(request: Request) -> Response:
            body = telemetry.exposition() or b""
            return Response(body, headers={"content-type": METRICS_CONTENT_TYPE})

        routes.append(JsonRoute("/metrics", metrics, methods=["GET"]))
    if telemetry.recent_spans(2**62) is not None:

        async def spans(request: Request) -> Response:
            raw = request.query_params.get("after", "0")
            try:
                after = int(raw)
            except ValueError:
                after = 0
            found = telemetry.recent_spans(after) or {"next": after, "spans": []}
            body = msgspec.json.encode(found)
            return Response(body, media_type="application/json")

        routes.append(JsonRoute("/_interlink/spans", spans, methods=["GET"]))
    return routes
