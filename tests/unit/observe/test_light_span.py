"""The light call and message spans against the SDK's own ``Tracer.start_span``: the same
sampling, ids, flags and trace state, the same span reaching every processor, at start and at
end, and the same OTLP message."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.context import Context as OtelContext
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import (
    Link,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from interlink.observe._ids import Ids
from interlink.observe._span import LightSpan, Spans

TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN = 0x00F067AA0BA902B7
STATE = TraceState([("vendor", "x")])
PARENTS = {
    "root": None,
    "sampled": SpanContext(TRACE, SPAN, True, TraceFlags(1), STATE),
    "sampled, random id": SpanContext(TRACE, SPAN, True, TraceFlags(3)),
    "not sampled": SpanContext(TRACE, SPAN, True, TraceFlags(0), STATE),
    "not sampled, random id": SpanContext(TRACE, SPAN, True, TraceFlags(2)),
    "invalid": SpanContext(0, 0, True, TraceFlags(1)),
}


class Started(SpanProcessor):
    def __init__(self) -> None:
        self.started: list[Any] = []

    def on_start(self, span: Any, parent_context: OtelContext | None = None) -> None:
        self.started.append(span)


def make(light: bool) -> tuple[Spans, InMemorySpanExporter, Started]:
    ids = Ids()
    provider = TracerProvider(id_generator=ids)
    spans = Spans(provider, provider.get_tracer("interlink"), ids)
    exporter, started = InMemorySpanExporter(), Started()  # added later: they still get spans
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(started)
    assert spans.light
    spans.light = light
    return spans, exporter, started


def summary(span: Any) -> dict[str, Any]:
    context = span.get_span_context()
    recording = span.is_recording()
    return {
        "type": "recording" if recording else type(span).__name__,
        "trace_id": context.trace_id if context.trace_id != TRACE else "parent's",
        "flags": int(context.trace_flags),
        "state": context.trace_state.to_header(),
        "remote": context.is_remote,
    }


@pytest.mark.parametrize("parent", list(PARENTS))
def test_the_light_path_decides_as_the_sdk(parent: str) -> None:
    seen = []
    for light in (True, False):
        spans, exporter, _ = make(light)
        span = spans.start("POST /rpc/a/b", SpanKind.CLIENT, PARENTS[parent], {"k": "v"})
        seen.append({**summary(span), "trace_id": summary(span)["trace_id"] != 0})
        span.end()
        assert len(exporter.get_finished_spans()) == (
            1 if span.get_span_context().trace_flags & 1 else 0
        )
    assert seen[0] == seen[1]
    if parent.startswith("not sampled"):
        assert seen[0]["type"] == "NonRecordingSpan"
    else:
        assert seen[0]["type"] == "recording"


def test_a_root_keeps_the_trace_id_interlink_named() -> None:
    spans, _, _ = make(True)
    spans._ids.trace_id = TRACE
    span = spans.start("x", SpanKind.CLIENT, None, {})
    assert span.get_span_context().trace_id == TRACE
    assert spans.start("y", SpanKind.CLIENT, None, {}).get_span_context().trace_id != TRACE


def finished(light: bool) -> tuple[ReadableSpan, Started]:
    spans, exporter, started = make(light)
    parent = PARENTS["sampled"]
    span = spans.start(
        "POST /rpc/a/b", SpanKind.SERVER, parent, {"a": "1", "n": 2}, (Link(parent),)
    )
    span.add_event("interlink.retry", {"http.request.resend_count": 1})
    span.set_attribute("b", 3)
    span.set_attributes({"c": "4"})
    span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end()
    span.set_attribute("late", 1)  # ignored once ended, as by the SDK
    span.end()  # a second end is ignored
    (only,) = exporter.get_finished_spans()
    return only, started


def test_the_finished_span_matches_the_sdks() -> None:
    light, light_started = finished(True)
    sdk, sdk_started = finished(False)
    assert isinstance(light, LightSpan)
    assert len(light_started.started) == len(sdk_started.started) == 1
    for span in (light, sdk):
        assert span.name == "POST /rpc/a/b"
        assert span.kind is SpanKind.SERVER
        assert span.parent == PARENTS["sampled"]
        assert dict(span.attributes or {}) == {"a": "1", "n": 2, "b": 3, "c": "4"}
        assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
            ("interlink.retry", {"http.request.resend_count": 1})
        ]
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "boom"
        assert span.start_time is not None
        assert span.end_time is not None
        assert span.start_time <= span.end_time
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "interlink"
        assert [link.context for link in span.links] == [PARENTS["sampled"]]
    assert light.resource.attributes == sdk.resource.attributes
    # what the OTLP exporter sends is the same but for the ids and times
    sent = [encode_spans([span]).resource_spans[0].scope_spans[0].spans[0] for span in (light, sdk)]
    for one in sent:
        one.span_id, one.start_time_unix_nano, one.end_time_unix_nano = b"", 0, 0
        for event in one.events:
            event.time_unix_nano = 0
    assert sent[0] == sent[1]
    assert light.to_json()
    assert sdk.to_json()


def test_another_sampler_takes_the_sdk_path() -> None:
    ids = Ids()
    provider = TracerProvider(id_generator=ids, sampler=ALWAYS_OFF)
    spans = Spans(provider, provider.get_tracer("interlink"), ids)
    assert not spans.light
    assert not spans.start("x", SpanKind.CLIENT, None, {}).is_recording()


@pytest.mark.parametrize(
    ("sampler", "light"), [(None, True), ("parentbased_always_on", True), ("always_on", False)]
)
def test_the_environment_s_sampler_decides_the_path(
    monkeypatch: pytest.MonkeyPatch, sampler: str | None, light: bool
) -> None:
    from interlink.observe import Observe, Telemetry

    if sampler is None:
        monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    else:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    telemetry = Telemetry(Observe(tracing=True), ["a"], "memory://")
    assert telemetry.spans is not None
    assert telemetry.spans.light is light
