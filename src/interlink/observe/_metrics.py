"""The Prometheus instruments of calls and messages, in one per-App registry.

Names are the Prometheus forms of the OpenTelemetry semantic-convention instruments (dots
become underscores, durations are in seconds). ``error_type`` is empty on success, which
Prometheus treats as the label being absent.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["Children", "Metrics"]

DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
"""The buckets the HTTP and messaging semantic conventions advise for durations."""

CHILDREN_KEPT = 1024
"""Label combinations of one instrument whose child a ``Children`` keeps at most."""

_DESTINATION = ("messaging_system", "messaging_destination_name")
_GROUP = (*_DESTINATION, "messaging_consumer_group_name")


class Metrics:
    """Every call/message instrument of one App, registered in ``registry`` only."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def histogram(name: str, doc: str, labels: tuple[str, ...]) -> Histogram:
            return Histogram(name, doc, labels, registry=registry, buckets=DURATION_BUCKETS)

        self.server_duration = histogram(
            "http_server_request_duration_seconds",
            "Duration of RPCs and routes served",
            (
                "http_request_method",
                "http_route",
                "http_response_status_code",
                "error_type",
                "interlink_service",
            ),
        )
        self.client_duration = histogram(
            "http_client_request_duration_seconds",
            "Duration of each attempt of an outgoing call",
            (
                "http_request_method",
                "server_address",
                "server_port",
                "http_response_status_code",
                "error_type",
                "interlink_target",
            ),
        )
        self.operation_duration = histogram(
            "messaging_client_operation_duration_seconds",
            "Duration of sending a message to the broker",
            (
                "messaging_system",
                "messaging_operation_name",
                "messaging_destination_name",
                "error_type",
            ),
        )
        self.process_duration = histogram(
            "messaging_process_duration_seconds",
            "Duration of one run of a subscriber's handler",
            (*_GROUP, "error_type"),
        )
        self.server = Children(self.server_duration)
        self.client = Children(self.client_duration)
        self.sent = Counter(
            "messaging_client_sent_messages",
            "Messages the broker acknowledged",
            _DESTINATION,
            registry=registry,
        )
        self.consumed = Counter(
            "messaging_client_consumed_messages",
            "Messages handed to a subscriber's handler (each run counts)",
            _GROUP,
            registry=registry,
        )
        self.end_to_end = Histogram(
            "interlink_event_end_to_end_latency_seconds",
            "From the event's time (when it was published) to its handler finishing",
            ("messaging_destination_name", "messaging_consumer_group_name"),
            registry=registry,
            buckets=DURATION_BUCKETS,
        )


class Children:
    """A histogram's children by label values, kept so that a call does not look its child up
    again (``Histogram.labels`` takes a lock and checks every value, several µs a call).

    Invariant: at most ``CHILDREN_KEPT`` children are kept; past that, the others are looked
    up each time (the histogram itself still has them all).
    """

    __slots__ = ("_children", "_histogram")

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._children: dict[tuple[str, ...], Histogram] = {}

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        child = self._children.get(labels)
        if child is None:
            child = self._histogram.labels(*labels)
            if len(self._children) < CHILDREN_KEPT:
                self._children[labels] = child
        child.observe(value)
