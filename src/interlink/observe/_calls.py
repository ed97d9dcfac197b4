"""One observation per call attempt (client) and per RPC or route served (server): a span
and a duration, measured once and recorded in both."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import msgspec
from opentelemetry.trace import SpanKind, Status, StatusCode

from interlink.observe._trace import remote, span_parent_of, traceparent_of

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from interlink._context import Context
    from interlink._envelope import Envelope
    from interlink.observe._span import LightSpan
    from interlink.observe._telemetry import Telemetry

__all__ = ["ClientCall", "ServerCall", "error_type_of"]

_METHOD = "POST"
_CLIENT = SpanKind.CLIENT
_SERVER = SpanKind.SERVER


def error_type_of(body: bytes) -> str | None:
    """The ``type`` of an error body (``{"error": {"type": …}}``), if it is one."""
    try:
        error = msgspec.json.decode(body)["error"]
        return str(error["type"])
    except (msgspec.DecodeError, KeyError, TypeError):
        return None


class ClientCall:
    """One attempt of ``ctx.call``: a CLIENT span named ``POST /rpc/{service}/{method}``."""

    __slots__ = (
        "_span",
        "_started",
        "_telemetry",
        "address",
        "path",
        "port",
        "status",
        "traceparent",
    )

    def __init__(
        self, telemetry: Telemetry, parent: Context, service: str, method: str, resend: int
    ) -> None:
        self._telemetry = telemetry
        self.path = f"/rpc/{service}/{method}"
        self.address = ""
        self.port = ""
        self.status: int | None = None
        """The answer's HTTP status (or the in-process handler's), once there is one."""
        self.traceparent: str | None = None
        self._span: Span | LightSpan | None = None
        spans = telemetry.spans
        if spans is not None:
            attributes: dict[str, str | int] = {
                "http.request.method": _METHOD,
                "url.path": self.path,
                "interlink.service": parent.service,
            }
            if resend:
                attributes["http.request.resend_count"] = resend
            context = span_parent_of(parent, telemetry.ids)
            span = spans.start(f"{_METHOD} {self.path}", _CLIENT, context, attributes)
            if resend:
                span.add_event("interlink.retry", {"http.request.resend_count": resend})
            self._span = span
            self.traceparent = traceparent_of(span)
        self._started = time.perf_counter()

    def picked(self, address: str, port: int) -> None:
        """The instance this attempt went to (a call to another process)."""
        self.address, self.port = address, str(port)

    def refused(self, error: BaseException) -> None:
        """The call's policy refused it (an open breaker, a full bulkhead): nothing was sent."""
        if self._span is not None:
            what = "breaker" if type(error).__name__ == "CallNotPermitted" else "bulkhead"
            self._span.add_event(f"interlink.{what}.rejected", {"error.type": type(error).__name__})
        self.finish(error)

    def finish(self, error: BaseException | None) -> None:
        elapsed = time.perf_counter() - self._started
        status = self.status
        error_type = "" if error is None else type(error).__name__
        span = self._span
        if span is not None:
            # Set once, at the end: each call into the span takes its lock and checks values.
            attributes: dict[str, str | int] = {}
            if self.address:
                attributes["server.address"] = self.address
                attributes["server.port"] = int(self.port)
                attributes["url.full"] = f"http://{self.address}:{self.port}{self.path}"
            if status is not None:
                attributes["http.response.status_code"] = status
            if error is not None:
                attributes["error.type"] = error_type
                span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
            span.set_attributes(attributes)
            span.end()
        metrics = self._telemetry.metrics
        if metrics is not None:
            metrics.client.observe(
                (
                    _METHOD,
                    self.address,
                    self.port,
                    "" if status is None else str(status),
                    error_type,
                    self.path[5:].replace("/", ".", 1),
                ),
                elapsed,
            )


class ServerCall:
    """One RPC or route served: a SERVER span named ``{method} {route}``, the child of the
    caller's span when the request carries a valid ``traceparent``."""

    __slots__ = ("_service", "_span", "_started", "_telemetry", "method", "route", "traceparent")

    def __init__(
        self, telemetry: Telemetry, envelope: Envelope, service: str, method: str, route: str
    ) -> None:
        self._telemetry = telemetry
        self._service = service
        self.method = method
        self.route = route
        self.traceparent: str | None = None
        self._span: Span | LightSpan | None = None
        spans = telemetry.spans
        if spans is not None:
            attributes: dict[str, str | int] = {
                "http.request.method": method,
                "http.route": route,
                "interlink.service": service,
            }
            parent = remote(envelope.traceparent)
            span = spans.start(f"{method} {route}", _SERVER, parent, attributes)
            self._span = span
            self.traceparent = traceparent_of(span)
        self._started = time.perf_counter()

    def finish(self, status: int, body: bytes, error: BaseException | None = None) -> None:
        """A server failed when it answered 5xx (a 4xx is the client's error)."""
        elapsed = time.perf_counter() - self._started
        error_type = ""
        if error is not None:
            error_type = type(error).__name__
        elif status >= 500:
            error_type = error_type_of(body) or str(status)
        span = self._span
        if span is not None:
            if error_type:
                span.set_attributes({"http.response.status_code": status, "error.type": error_type})
                span.set_status(Status(StatusCode.ERROR))
            else:
                span.set_attribute("http.response.status_code", status)
            span.end()
        metrics = self._telemetry.metrics
        if metrics is not None:
            metrics.server.observe(
                (self.method, self.route, str(status), error_type, self._service), elapsed
            )
