"""The service graph and the RED table, from recorded spans."""

from __future__ import annotations

from typing import Any

from interlink.dashboard._spans import SpanBuffer, decode_page
from interlink.dashboard._stats import percentile
from interlink.dashboard._topology import red, topology
from tests.unit.dashboard._fixture import CONSUMERS, DEST, T0, all_spans, page, span

NOW = T0 + 10.0


def edges(spans: Any = None, window: float = 60.0) -> dict[tuple[str, str, str], dict[str, Any]]:
    graph = topology(all_spans() if spans is None else spans, now=NOW, window=window)
    return {(e["source"], e["target"], e["kind"]): e for e in graph["edges"]}


def test_a_client_span_whose_child_is_a_server_span_of_another_service_is_a_sync_edge() -> None:
    edge = edges()[("orders", "payment", "sync")]
    assert edge["count"] == 3  # two reached payment, one was refused with a target attribute
    assert edge["errors"] == 2
    assert round(edge["error_pct"], 1) == 66.7
    assert round(edge["rate"], 3) == round(3 / 60, 3)


def test_a_client_span_without_a_server_child_or_target_makes_no_edge() -> None:
    lone = decode_page(page([span("z1", "91", "x", "client", "orders", 1, 2)], 1)).spans
    assert edges(lone) == {}


def test_a_refused_call_is_an_edge_to_the_service_its_target_names() -> None:
    refused = [s for s in all_spans() if s.span_id.startswith("22")]
    assert list(edges(refused)) == [("orders", "payment", "sync")]


def test_a_refused_call_may_name_its_target_as_service_dot_method() -> None:
    refused = span(
        "y1",
        "81",
        "call",
        "client",
        "orders",
        1,
        2,
        attributes={"interlink.target": "payment.charge"},
    )
    assert list(edges(decode_page(page([refused], 1)).spans)) == [("orders", "payment", "sync")]


def test_the_caller_is_the_service_whose_handler_made_the_call() -> None:
    """A saga step's spans name the saga; the edge starts at the service that ran the step."""
    saga = [
        span("s1", "61", "POST /rpc/orders/place", "server", "orders", 0.0, 1.0),
        span("s1", "62", "saga checkout.charge", "internal", "checkout", 0.1, 0.9, "61"),
        span("s1", "63", "POST /rpc/payment/charge", "client", "checkout", 0.2, 0.8, "62"),
        span("s1", "64", "POST /rpc/payment/charge", "server", "payment", 0.3, 0.7, "63"),
        span(
            "s1",
            "65",
            "create orders.placed",
            "producer",
            "checkout",
            0.85,
            0.86,
            "62",
            attributes=DEST,
        ),
    ]
    spans = decode_page(page(saga, 1)).spans
    assert set(edges(spans)) == {
        ("orders", "payment", "sync"),
        ("orders", "orders.placed", "publish"),
    }
    nodes = {n["id"] for n in topology(spans, now=NOW, window=60)["nodes"]}
    assert nodes == {"orders", "payment", "orders.placed"}  # no node for the saga's name


def test_a_producer_span_is_an_edge_to_its_destination_node() -> None:
    graph = topology(all_spans(), now=NOW, window=60)
    kinds = {n["id"]: n["kind"] for n in graph["nodes"]}
    assert kinds["orders.placed"] == "destination"
    assert kinds["orders"] == kinds["payment"] == kinds["notification"] == "service"
    assert edges()[("orders", "orders.placed", "publish")]["count"] == 1


def test_a_consumer_span_reaches_its_destination_through_its_link() -> None:
    """notification's span has no destination attribute: only the link to the producer span
    says where the message came from."""
    found = edges()
    assert found[("orders.placed", "notification", "consume")]["count"] == 1
    assert found[("orders.placed", "analytics", "consume")]["count"] == 1


def test_the_link_wins_over_the_consumer_span_attribute() -> None:
    spans = [*all_spans()]
    other = {"messaging.destination.name": "elsewhere"}
    spans += decode_page(
        page(
            [
                span(
                    "f1",
                    "51",
                    "p",
                    "consumer",
                    "audit",
                    0.5,
                    0.6,
                    attributes=other,
                    links=[("a1", "04")],
                )
            ],
            1,
        )
    ).spans
    assert ("orders.placed", "audit", "consume") in edges(spans)


def test_a_consumer_span_whose_producer_was_not_seen_falls_back_to_its_attribute() -> None:
    only = decode_page(page(CONSUMERS, 1)).spans
    found = edges(only)
    assert ("orders.placed", "analytics", "consume") in found
    assert not any(t == "notification" for _, t, _ in found)


def test_spans_older_than_the_window_are_left_out() -> None:
    assert edges(window=7.9) == {}  # everything ended by T0 + 2.01
    assert edges(window=8.5)[("orders", "payment", "sync")]["count"] == 1  # only the last call


def test_edge_percentiles_come_from_the_client_span_durations() -> None:
    edge = edges()[("orders", "payment", "sync")]
    assert round(edge["p50"], 3) == 0.040  # durations 0.001, 0.040, 0.140
    assert round(edge["p99"], 3) == 0.140


def test_red_rows_count_server_and_consumer_spans_per_service_and_operation() -> None:
    rows = {(r["service"], r["operation"]): r for r in red(all_spans(), now=NOW, window=60)}
    assert rows[("orders", "orders.place")]["count"] == 3
    assert rows[("orders", "orders.place")]["errors"] == 2
    assert rows[("payment", "payment.charge")]["count"] == 2
    assert rows[("notification", "orders.placed process")]["kind"] == "consumer"
    assert ("analytics", "analytics.store") not in rows  # internal spans are not operations
    assert DEST  # the fixture's destination attribute is the shared name


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None


def test_the_span_buffer_keeps_the_newest_spans_once_each() -> None:
    buffer = SpanBuffer(3)
    spans = all_spans()
    buffer.add(spans[:2])
    buffer.add(spans[:2])
    assert len(buffer) == 2
    buffer.add(spans[2:6])
    assert [s.span_id for s in buffer.all()] == [s.span_id for s in spans[3:6]]
