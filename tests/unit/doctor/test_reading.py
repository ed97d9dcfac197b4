"""What static analysis finds in handler source, and what it documents it cannot see."""

from __future__ import annotations

from interlink.doctor import diagnose, parse_spans
from tests.unit.doctor import reading, spans


def where(code: str) -> list[str]:
    return [f.where for f in diagnose(reading.app).findings if f.code == code]


def test_a_call_site_timeout_bounds_the_call_and_module_constants_resolve() -> None:
    # `named` calls s1.go with timeout=; `comprehended` calls it without one (no policy).
    assert where("IL103") == ["reader.comprehended"]
    assert sorted(where("IL104")) == ["reader.comprehended", "reader.named"]
    assert "readings.taken" not in where("IL106")  # published via TOPIC, consumed by `took`


def test_a_call_in_a_comprehension_is_in_a_loop() -> None:
    assert where("IL110") == ["reader.comprehended"]


def test_calls_in_helper_functions_are_not_seen() -> None:
    report = diagnose(reading.app)
    assert not [f for f in report.findings if "hidden.go" in f.message]


def test_a_route_waiting_on_a_broker_reply_is_sync_over_async() -> None:
    assert where("IL105") == ["reader.quote"]


def test_dead_letter_subscriptions_and_request_only_consumers() -> None:
    assert "reader.dead" not in where("IL107")  # its topic is a dead-letter topic here
    assert "reader.price" not in where("IL108")  # durable=False: requests only


def test_otlp_kinds_by_name_and_the_interlink_service_attribute() -> None:
    document = spans.to_otlp(spans.chain("a.x", "b.y", "c.z", "d.w"))
    for resource in document["resourceSpans"]:
        service = resource["resource"]["attributes"][0]["value"]["stringValue"]
        resource["resource"]["attributes"] = []
        for span in resource["scopeSpans"][0]["spans"]:
            span["kind"] = {2: "SPAN_KIND_SERVER", 3: "SPAN_KIND_CLIENT"}[span["kind"]]
            span["attributes"].append(
                {"key": "interlink.service", "value": {"stringValue": service}}
            )
    [deep] = [f for f in diagnose(spans=parse_spans(document)).findings if f.code == "IL101"]
    assert "a.x → b.y → c.z → d.w" in deep.message


def test_a_hub_from_traces() -> None:
    six = [f"b{i}.get" for i in range(1, 6)]
    found = diagnose(spans=parse_spans(spans.fan("a.x", six))).findings
    assert [(f.code, f.where, f.source) for f in found if f.code == "IL111"] == [
        ("IL111", "a", "traces")
    ]
