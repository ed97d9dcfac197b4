"""Saga steps in the trace: each attempt of a step (or of its compensation) is a span.

A saga started by a handler continues that handler's trace: its runner task is spawned from
the handler's task and so sees the handler's span. A saga resumed after a restart (by this or
another worker) starts a new trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from opentelemetry.trace import SpanKind, Status, StatusCode

from interlink.observe._trace import ROOT, SERVING, parent_of, traceparent_of

if TYPE_CHECKING:
    from interlink._context import Context
    from interlink.observe._telemetry import Telemetry

__all__ = ["SagaStep"]


class SagaStep:
    """An INTERNAL span ``saga {saga}.{step}`` for one attempt; the step's calls and events
    are its children (the step's App context runs under it)."""

    __slots__ = ("_span", "_token", "context")

    def __init__(
        self,
        telemetry: Telemetry,
        make_context: Callable[[str], Context],
        saga: str,
        saga_id: str,
        step: str,
        kind: str,
        attempt: int,
    ) -> None:
        assert telemetry.tracer is not None
        serving = SERVING.get()
        parent = ROOT if serving is None else parent_of(serving)
        attributes: dict[str, str | int] = {
            "interlink.saga": saga,
            "interlink.saga.id": saga_id,
            "interlink.saga.step": step,
            "interlink.saga.step.kind": kind,
            "interlink.saga.step.attempt": attempt,
            "interlink.service": saga,
        }
        self._span = telemetry.tracer.start_span(
            f"saga {saga}.{step}", parent, SpanKind.INTERNAL, attributes
        )
        traceparent = traceparent_of(self._span)
        self.context: Context | None = make_context(saga)
        self.context.traceparent = traceparent
        self._token = SERVING.set(traceparent)

    def finish(self, error: BaseException | None) -> None:
        SERVING.reset(self._token)
        if error is not None:
            self._span.set_attribute("error.type", type(error).__name__)
            self._span.set_status(Status(StatusCode.ERROR, str(error)[:200]))
        self._span.end()
