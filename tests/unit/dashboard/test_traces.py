"""The trace list and one request's waterfall across services and events."""

from __future__ import annotations

from interlink.dashboard._traces import recent_traces, waterfall
from tests.unit.dashboard._fixture import all_spans

A1 = "a1".ljust(32, "0")


def test_recent_traces_are_newest_first_with_their_root_span() -> None:
    rows = recent_traces(all_spans())
    assert [r["trace_id"][:2] for r in rows] == ["c1", "b1", "e1", "d1", "a1"]
    first = rows[-1]
    assert (first["service"], first["name"], first["spans"]) == ("orders", "orders.place", 4)
    assert first["services"] == ["orders", "payment"]
    assert rows[1]["errors"] == 3


def test_the_waterfall_follows_links_into_the_consumers_traces() -> None:
    spans = waterfall(all_spans(), A1)
    by_name = {(s["service"], s["name"]): s for s in spans}
    assert {s["service"] for s in spans} == {"orders", "payment", "notification", "analytics"}
    consumer = by_name[("notification", "orders.placed process")]
    assert consumer["parent"] == "04".ljust(16, "0")  # hung under the producer span it links
    assert consumer["depth"] == 2
    assert by_name[("analytics", "analytics.store")]["depth"] == 3
    assert by_name[("payment", "payment.charge")]["depth"] == 2
    assert [s["start"] for s in spans] == sorted(s["start"] for s in spans)


def test_an_unknown_trace_has_no_spans() -> None:
    assert waterfall(all_spans(), "f" * 32) == []
