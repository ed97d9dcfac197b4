"""``diagnose``: run every rule over a declared App and/or recorded spans."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from interlink._app import App
from interlink.doctor import _rules_calls, _rules_graph, _rules_topics
from interlink.doctor._declared import declared
from interlink.doctor._findings import Finding, Report
from interlink.doctor._model import System
from interlink.doctor._observed import Observed, observe
from interlink.doctor._settings import Thresholds
from interlink.doctor._spans import Span

__all__ = ["RULES", "diagnose"]

Rule = Callable[[System, Observed, Thresholds], Iterator[Finding]]

RULES: tuple[Rule, ...] = (
    _rules_graph.chain_depth,
    _rules_graph.cycles,
    _rules_calls.unguarded,
    _rules_calls.sync_over_async,
    _rules_topics.unconsumed,
    _rules_topics.unfed,
    _rules_topics.no_dedupe,
    _rules_graph.fan_out,
    _rules_calls.chatty,
    _rules_graph.hubs,
    _rules_calls.retry_storms,
    _rules_calls.endpoints,
)


def diagnose(
    app: App | None = None, *, spans: Iterable[Span] = (), thresholds: Thresholds | None = None
) -> Report:
    """Every finding for ``app`` (its declaration and its handlers' source) and ``spans``
    (recorded traces); either may be left out. The App is read, never started."""
    system = declared(app) if app is not None else System()
    seen = observe(spans)
    limits = thresholds if thresholds is not None else Thresholds()
    return Report(finding for rule in RULES for finding in rule(system, seen, limits))
