"""``interlink doctor``: pitfalls of a declared system (an App and its handlers' source) and of
recorded traces, as findings with a stable code, a level and a hint. See docs/doctor.md."""

from interlink.doctor._diagnose import diagnose
from interlink.doctor._findings import Finding, Level, Report
from interlink.doctor._settings import Thresholds, parse_settings
from interlink.doctor._spans import Span, SpanError, load_spans, parse_spans

__all__ = [
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
