"""One observation per call attempt (client) and per RPC or route served (server): a span
and a duration, measured once and recorded in both."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

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
        "network",
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
        self.network = ""
        """``tcp`` or ``unix`` when the socket transport carries this attempt."""
        self.status: int | None = None
        """The answer's HTTP status (or the in-process handler's), once there is one."""
        self.traceparent: str | None = None
        self._span: Span | LightSpan | None = None
        spans = telemetry.spans
        if spans is not None:
            attributes: dict[str, str | int] = {"interlink.service": parent.service}
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

    def via_socket(self, address: str) -> None:
        """The socket transport carries this attempt, to ``address`` (``tcp://host:port`` or
        ``unix:///path``): the span says so instead of describing an HTTP request."""
        parts = urlsplit(address)
        if parts.scheme == "unix":
            self.network, self.address, self.port = "unix", "", ""
        else:
            self.network = "tcp"
            self.address, self.port = parts.hostname or "", str(parts.port or "")

    def refused(self, error: BaseException) -> None:
        """The call's policy refused it (an open breaker, a full bulkhead): nothing was sent."""
        if self._span is not None:
            what = "breaker" if type(error).__name__ == "CallNotPermitted" else "bulkhead"
            self._span.add_event(f"interlink.{what}.rejected", {"error.type": type(error).__name__})
        self.finish(error)

    def note(self, attributes: dict[str, str | int]) -> None:
        """Attributes for the span, if there is one."""
        if self._span is not None:
            self._span.set_attributes(attributes)

    def finish(self, error: BaseException | None) -> None:
        elapsed = time.perf_counter() - self._started
        status = self.status
        error_type = "" if error is None else type(error).__name__
        span = self._span
        if span is not None:
            # Set once, at the end: each call into the span takes its lock and checks values.
            if self.network:
                attributes = self._socket_attributes(span)
            else:
                attributes = {"http.request.method": _METHOD, "url.path": self.path}
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

    def _socket_attributes(self, span: Span | LightSpan) -> dict[str, str | int]:
        service, _, method = self.path[5:].partition("/")
        span.update_name(f"{service}/{method}")
        attributes = rpc_attributes(service, method, self.network)
        if self.address:
            attributes["server.address"] = self.address
            attributes["server.port"] = int(self.port)
        if self.status is not None:
            attributes["interlink.status_code"] = self.status
        return attributes


def rpc_attributes(service: str, method: str, network: str) -> dict[str, str | int]:
    """What a call the socket transport carried is described by (not HTTP's attributes)."""
    return {
        "rpc.system": "interlink",
        "rpc.service": service,
        "rpc.method": method,
        "network.transport": network,
        "network.protocol.name": "interlink",
    }


class ServerCall:
    """One RPC or route served: a SERVER span named ``{method} {route}``, the child of the
    caller's span when the request carries a valid ``traceparent``."""

    __slots__ = (
        "_service",
        "_socket",
        "_span",
        "_started",
        "_telemetry",
        "method",
        "route",
        "traceparent",
    )

    def __init__(
        self,
        telemetry: Telemetry,
        envelope: Envelope,
        service: str,
        method: str,
        route: str,
        socket: str | None = None,
    ) -> None:
        """``socket``: ``tcp`` or ``unix`` when the socket transport carried the call."""
        self._telemetry = telemetry
        self._socket = socket
        self._service = service
        self.method = method
        self.route = route
        self.traceparent: str | None = None
        self._span: Span | LightSpan | None = None
        spans = telemetry.spans
        if spans is not None:
            if socket is None:
                name = f"{method} {route}"
                attributes: dict[str, str | int] = {
                    "http.request.method": method,
                    "http.route": route,
                }
            else:
                rpc_method = route.rpartition("/")[2]
                name = f"{service}/{rpc_method}"
                attributes = rpc_attributes(service, rpc_method, socket)
            attributes["interlink.service"] = service
            parent = remote(envelope.traceparent)
            span = spans.start(name, _SERVER, parent, attributes)
            self._span = span
            self.traceparent = traceparent_of(span)
        self._started = time.perf_counter()

    def note(self, attributes: dict[str, str | int]) -> None:
        """Attributes for the span, if there is one."""
        if self._span is not None:
            self._span.set_attributes(attributes)

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
            code = "http.response.status_code" if self._socket is None else "interlink.status_code"
            if error_type:
                span.set_attributes({code: status, "error.type": error_type})
                span.set_status(Status(StatusCode.ERROR))
            else:
                span.set_attribute(code, status)
            span.end()
        metrics = self._telemetry.metrics
        if metrics is not None:
            metrics.server.observe(
                (self.method, self.route, str(status), error_type, self._service), elapsed
            )
