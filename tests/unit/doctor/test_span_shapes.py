"""How the doctor names handlers and sees retries in the spans interlink records (and in
spans of other tools that name the RPC method instead)."""

from __future__ import annotations

from typing import Any

from interlink.doctor import Finding, Thresholds, diagnose, parse_spans
from tests.unit.doctor import spans


def traced(group: list[dict[str, Any]], **limits: int) -> list[Finding]:
    return diagnose(spans=parse_spans(group), thresholds=Thresholds(**limits)).findings


def deep(group: list[dict[str, Any]]) -> str:
    [finding] = [f for f in traced(group) if f.code == "IL101"]
    return finding.message.rpartition("): ")[2]


def test_an_rpc_is_named_from_the_http_route_of_its_server_span() -> None:
    assert deep(spans.chain("a.x", "b.y", "c.z", "d.w")) == "a.x → b.y → c.z → d.w"


def test_the_url_path_names_the_rpc_when_there_is_no_route() -> None:
    group = spans.chain("a.x", "b.y", "c.z", "d.w")
    for span in group:
        if span["kind"] == "server":
            span["attributes"]["url.path"] = span["attributes"].pop("http.route")
    assert deep(group) == "a.x → b.y → c.z → d.w"


def test_without_an_rpc_route_the_rpc_method_attribute_or_the_span_name_names_it() -> None:
    group = spans.chain("a.x", "b.y", "c.z", "d.w")
    for span in group:
        if span["kind"] == "server":
            method = span["attributes"].pop("http.route").rpartition("/")[2]
            if span["service"] in ("a", "b"):
                span["attributes"]["rpc.method"] = method
            elif span["service"] == "c":
                span["name"] = "c.z"
            else:
                span["name"] = "GET /orders/{id}"  # a route, not an RPC
    assert deep(group) == "a.x → b.y → c.z → d:GET /orders/{id}"


def test_a_retry_is_the_resend_count_or_the_interlink_retry_event() -> None:
    for only in ({"count": False}, {"event": False}):
        storms = [f.message for f in traced(spans.retried(5, **only)) if f.code == "IL112"]
        assert storms == ["a retry storm: 5 retried calls in one trace"]
    assert not [f for f in traced(spans.retried(5, count=False, event=False)) if f.code == "IL112"]
