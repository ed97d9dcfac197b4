"""Each doctor rule on a system that trips it and on one that does not (the public API)."""

from __future__ import annotations

import interlink as il
from interlink.doctor import Finding, Level, Thresholds, diagnose, parse_spans
from tests.unit.doctor import fans, sagas, spans, systems


def found(report: object, code: str) -> list[Finding]:
    return [f for f in report.findings if f.code == code]  # type: ignore[attr-defined]


def traced(*groups: list[dict[str, object]], **limits: int) -> list[Finding]:
    merged = [span for group in groups for span in group]
    return diagnose(spans=parse_spans(merged), thresholds=Thresholds(**limits)).findings


def test_il101_a_chain_of_three_synchronous_calls_is_reported_and_two_is_not() -> None:
    [deep] = found(diagnose(systems.chain(3)), "IL101")
    assert (deep.level, deep.where, deep.source) == (Level.WARNING, "s0.go", "static")
    assert "s0.go → s1.go → s2.go → s3.go" in deep.message
    assert not found(diagnose(systems.chain(2)), "IL101")


def test_il101_the_threshold_is_configurable() -> None:
    assert not found(diagnose(systems.chain(3), thresholds=Thresholds(chain_depth=4)), "IL101")
    assert found(diagnose(systems.chain(2), thresholds=Thresholds(chain_depth=2)), "IL101")


def test_il101_from_traces() -> None:
    deep = [f for f in traced(spans.chain("a.x", "b.y", "c.z", "d.w")) if f.code == "IL101"]
    assert [(f.where, f.source) for f in deep] == [("a.x", "traces")]
    assert "a.x → b.y → c.z → d.w" in deep[0].message
    assert not [f for f in traced(spans.chain("a.x", "b.y", "c.z")) if f.code == "IL101"]


def test_il102_a_cycle_between_services_is_an_error() -> None:
    [cycle] = found(diagnose(systems.ring(["ra", "rb", "rc"])), "IL102")
    assert cycle.level is Level.ERROR
    assert cycle.message.endswith("ra → rb → rc → ra")
    assert diagnose(systems.ring(["ra", "rb"])).exit_code == 1


def test_il102_no_cycle_in_a_chain_nor_a_service_calling_itself() -> None:
    assert not found(diagnose(systems.chain(3)), "IL102")
    assert not found(diagnose(systems.ring(["alone"])), "IL102")
    assert diagnose(systems.chain(1)).exit_code == 0


def test_il102_from_traces() -> None:
    groups = (spans.chain("a.x", "b.y"), spans.chain("b.y", "a.z"))
    assert [f.where for f in traced(*groups) if f.code == "IL102"] == ["a"]
    assert not [f for f in traced(spans.chain("a.x", "b.y")) if f.code == "IL102"]


def test_il103_il104_a_call_with_no_policy_has_no_timeout_and_no_breaker() -> None:
    report = diagnose(systems.chain(1, default_policy=None))
    [no_timeout] = found(report, "IL103")
    [no_breaker] = found(report, "IL104")
    assert (no_timeout.level, no_timeout.where) == (Level.ERROR, "s0.go")
    assert "s1.go" in no_timeout.message
    assert no_breaker.level is Level.WARNING
    assert report.exit_code == 1


def test_il103_il104_the_default_policy_guards_calls() -> None:
    report = diagnose(systems.chain(1))
    assert not found(report, "IL103")
    assert not found(report, "IL104")


def test_il103_a_policy_with_a_deadline_or_a_timeout_counts() -> None:
    for policy in (il.Policy(deadline=2.0), il.Policy(timeout=1.0)):
        report = diagnose(systems.chain(1, default_policy=None, policies={"s1": policy}))
        assert not found(report, "IL103")
        assert found(report, "IL104")


def test_il105_an_rpc_waiting_on_a_broker_reply_is_sync_over_async() -> None:
    [finding] = found(diagnose(systems.sync_over_async()), "IL105")
    assert (finding.where, finding.level) == ("quotes.ask", Level.WARNING)
    assert "prices.ask" in finding.message
    assert not found(diagnose(systems.async_only()), "IL105")


def test_il106_a_topic_nobody_consumes() -> None:
    [finding] = found(diagnose(il.App([systems.shouter])), "IL106")
    assert (finding.where, finding.level) == ("news.flash", Level.WARNING)
    assert "shouter.shout" in finding.message
    assert not found(diagnose(il.App([systems.shouter, systems.listener])), "IL106")
    assert not found(diagnose(systems.async_only()), "IL106")


def test_il106_from_traces() -> None:
    assert [
        f.where for f in traced(spans.messaging("t.one", consumed=False)) if f.code == "IL106"
    ] == ["t.one"]
    assert not [f for f in traced(spans.messaging("t.one", consumed=True)) if f.code == "IL106"]


def test_il107_a_subscription_nobody_feeds_is_info() -> None:
    [finding] = found(diagnose(il.App([systems.ghost])), "IL107")
    assert (finding.where, finding.level) == ("ghost.haunt", Level.INFO)
    assert not found(diagnose(il.App([systems.shouter, systems.listener])), "IL107")
    assert not found(diagnose(systems.async_only()), "IL107")


def test_il108_an_at_least_once_consumer_without_dedupe_or_inbox() -> None:
    [finding] = found(diagnose(il.App([systems.shouter, systems.listener])), "IL108")
    assert (finding.where, finding.level) == ("listener.heard", Level.WARNING)
    for guarded in (systems.deduped, systems.inboxed):
        assert not found(diagnose(il.App([systems.shouter, guarded])), "IL108")


def test_il109_fan_out_of_six_and_not_five() -> None:
    [wide] = found(diagnose(fans.fan(6)), "IL109")
    assert (wide.where, wide.level) == ("front6.all", Level.WARNING)
    assert not found(diagnose(fans.fan(5)), "IL109")


def test_il109_from_traces() -> None:
    six = [f"b{i}.get" for i in range(1, 7)]
    assert [f.where for f in traced(spans.fan("a.x", six)) if f.code == "IL109"] == ["a.x"]
    assert not [f for f in traced(spans.fan("a.x", six[:5])) if f.code == "IL109"]


def test_il110_a_chatty_pair_in_one_trace() -> None:
    [chat] = [f for f in traced(spans.fan("a.x", ["b.y"], repeat=10)) if f.code == "IL110"]
    assert (chat.where, chat.level, chat.source) == ("a → b", Level.WARNING, "traces")
    assert not [f for f in traced(spans.fan("a.x", ["b.y"], repeat=9)) if f.code == "IL110"]


def test_il110_a_call_inside_a_loop_is_info() -> None:
    [loop] = found(diagnose(il.App([systems.looping])), "IL110")
    assert (loop.where, loop.level, loop.source) == ("looping.each", Level.INFO, "static")
    assert not found(diagnose(il.App([systems.clean])), "IL110")


def test_il111_a_hub_service_with_five_neighbours_and_not_four() -> None:
    hub = found(diagnose(fans.fan(5)), "IL111")
    assert [(f.where, f.level) for f in hub] == [("front5", Level.WARNING)]
    assert not found(diagnose(fans.fan(4)), "IL111")


def test_il112_retries_multiplying_along_a_chain() -> None:
    [storm] = found(diagnose(systems.retrying(4)), "IL112")
    assert storm.where == "s0.go"
    assert "16 attempts of s2.go" in storm.message
    assert not found(diagnose(systems.retrying(3)), "IL112")  # 3 x 3 = 9


def test_il112_retries_held_to_a_budget_count_once() -> None:
    assert not found(diagnose(systems.retrying(4, budget=True)), "IL112")


def test_il112_from_traces() -> None:
    assert [f.source for f in traced(spans.retried(5)) if f.code == "IL112"] == ["traces"]
    assert not [f for f in traced(spans.retried(4)) if f.code == "IL112"]


def test_il113_a_hard_coded_endpoint_but_not_one_in_a_docstring() -> None:
    [wired] = found(diagnose(il.App([systems.hardwired])), "IL113")
    assert (wired.where, wired.level) == ("hardwired.fetch", Level.WARNING)
    assert "http://10.0.0.7:8080/prices" in wired.message
    assert not found(diagnose(il.App([systems.clean])), "IL113")


def test_otlp_exports_give_the_same_findings() -> None:
    recorded = spans.chain("a.x", "b.y", "c.z", "d.w") + spans.fan("a.x", ["b.y"], repeat=10)
    own = diagnose(spans=parse_spans(recorded)).findings
    otlp = diagnose(spans=parse_spans(spans.to_otlp(recorded))).findings
    assert [f.to_dict() for f in otlp] == [f.to_dict() for f in own]
    assert {f.code for f in own} == {"IL101", "IL110"}


def test_the_public_names() -> None:
    import interlink.doctor

    assert interlink.doctor.__all__ == [
        "Finding",
        "Level",
        "Report",
        "Span",
        "SpanError",
        "Thresholds",
        "diagnose",
        "load_spans",
        "parse_settings",
        "parse_spans",
    ]


def test_saga_steps_run_in_the_service_that_starts_them() -> None:
    retry3 = il.Policy(deadline=1.0, retry=il.Retry(attempts=3, on=il.CallError))
    report = diagnose(sagas.app(policies={"quotes": retry3}))
    # The starter does not wait: no sync-over-async, and the steps are chains of their own.
    assert not [f for f in report.findings if f.code == "IL105" and f.where == "starter.begin"]
    [storm] = found(report, "IL112")
    assert storm.where == "starter.flow.first"
    assert "15 attempts of quotes.ask" in storm.message  # 5 step attempts x 3 call attempts
    [command] = [f for f in found(report, "IL106") if f.where == "billing.charge"]
    assert "starter.flow.second" in command.message
    assert not found(diagnose(sagas.app()), "IL112")  # the default policy's retries are budgeted


def test_declared_and_traced_calls_make_one_graph() -> None:
    recorded = parse_spans(spans.chain("s1.go", "s0.go"))
    [cycle] = found(diagnose(systems.chain(1), spans=recorded), "IL102")
    assert (cycle.where, cycle.source) == ("s0", "static+traces")
    assert not found(diagnose(systems.chain(1)), "IL102")


def test_il106_a_consumer_span_linked_to_the_producer_consumes_its_topic() -> None:
    assert not [f for f in traced(spans.linked("t.two")) if f.code == "IL106"]
    unlinked = spans.linked("t.two")
    unlinked[-1]["links"] = []
    assert [f.where for f in traced(unlinked) if f.code == "IL106"] == ["t.two"]
