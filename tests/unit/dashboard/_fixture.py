"""Spans of two shop orders as ``GET /_interlink/spans`` pages from three instances: the first
order paid, its ``orders.placed`` event consumed by notification (which only *links* the
producer span: no destination attribute of its own) and analytics; the second order's charge
failed, and a third call was refused before reaching payment (an open breaker)."""

from __future__ import annotations

from typing import Any

import msgspec

from interlink.dashboard._spans import Span, decode_page

T0 = 1_800_000_000.0


def span(
    trace: str,
    sid: str,
    name: str,
    kind: str,
    service: str,
    start: float,
    end: float,
    parent: str | None = None,
    *,
    status: str = "ok",
    attributes: dict[str, Any] | None = None,
    links: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    return {
        "trace_id": trace.ljust(32, "0"),
        "span_id": sid.ljust(16, "0"),
        "parent_id": None if parent is None else parent.ljust(16, "0"),
        "name": name,
        "kind": kind,
        "service": service,
        "start": T0 + start,
        "end": T0 + end,
        "status": status,
        "error_type": "PaymentDeclined" if status == "error" else None,
        "attributes": attributes or {},
        "links": [{"trace_id": t.ljust(32, "0"), "span_id": s.ljust(16, "0")} for t, s in links],
        "events": [],
    }


DEST = {"messaging.destination.name": "orders.placed"}

ORDERS = [
    span("a1", "01", "orders.place", "server", "orders", 0.0, 0.100),
    span("a1", "02", "payment.charge", "client", "orders", 0.010, 0.050, "01"),
    span(
        "a1",
        "04",
        "orders.placed publish",
        "producer",
        "orders",
        0.060,
        0.070,
        "01",
        attributes=DEST,
    ),
    span("b1", "11", "orders.place", "server", "orders", 1.0, 1.2, status="error"),
    span("b1", "12", "payment.charge", "client", "orders", 1.01, 1.15, "11", status="error"),
    span("c1", "21", "orders.place", "server", "orders", 2.0, 2.01, status="error"),
    span(
        "c1",
        "22",
        "payment.charge",
        "client",
        "orders",
        2.001,
        2.002,
        "21",
        status="error",
        attributes={"interlink.target": "payment.charge"},
    ),
]
PAYMENT = [
    span("a1", "03", "payment.charge", "server", "payment", 0.020, 0.040, "02"),
    span("b1", "13", "payment.charge", "server", "payment", 1.02, 1.14, "12", status="error"),
]
CONSUMERS = [
    span(
        "d1",
        "31",
        "orders.placed process",
        "consumer",
        "notification",
        0.2,
        0.25,
        links=[("a1", "04")],
    ),
    span(
        "e1",
        "41",
        "orders.placed process",
        "consumer",
        "analytics",
        0.3,
        0.31,
        attributes=DEST,
        links=[("a1", "04")],
    ),
    span("e1", "42", "analytics.store", "internal", "analytics", 0.301, 0.305, "41"),
]


def page(spans: list[dict[str, Any]], next_seq: int) -> bytes:
    return msgspec.json.encode({"next": next_seq, "spans": spans})


def all_spans() -> list[Span]:
    return [s for group in (ORDERS, PAYMENT, CONSUMERS) for s in decode_page(page(group, 1)).spans]


def shifted(spans: list[dict[str, Any]], to: float) -> list[dict[str, Any]]:
    """The spans moved in time so that T0 falls at ``to``."""
    return [{**s, "start": s["start"] - T0 + to, "end": s["end"] - T0 + to} for s in spans]
