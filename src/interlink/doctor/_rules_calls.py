"""Rules over single calls: IL103 no timeout, IL104 no breaker, IL105 sync-over-async,
IL110 chatty pairs, IL112 retry storms, IL113 hard-coded endpoints."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from interlink.doctor._findings import Finding, Level
from interlink.doctor._graph import heaviest_path, make_graph
from interlink.doctor._model import System
from interlink.doctor._observed import Observed
from interlink.doctor._settings import Thresholds

__all__ = ["chatty", "endpoints", "retry_storms", "sync_over_async", "unguarded"]


def unguarded(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    for edge in system.edges:
        guard = system.guards[edge.target.split(".")[0]]
        if guard.timeout is None and not edge.timeout:
            yield Finding(
                code="IL103",
                level=Level.ERROR,
                where=edge.source,
                message=f"calls {edge.target} with no timeout ({edge.line}): neither its "
                "policy nor the call sets one",
                hint="a callee that hangs holds this handler forever; give the target a "
                "Policy(deadline=...) or pass timeout= to ctx.call",
                source="static",
            )
        if not guard.breaker:
            yield Finding(
                code="IL104",
                level=Level.WARNING,
                where=edge.source,
                message=f"calls {edge.target} with no circuit breaker ({edge.line})",
                hint="without one, every caller keeps waiting on a failing service; give its "
                "policy breaker=CircuitBreaker(...) (the default policy has one)",
                source="static",
            )


def sync_over_async(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    for handler in system.handlers:
        if handler.kind not in ("rpc", "route"):
            continue
        for site in handler.sites:
            if site.kind == "request":
                what = f"waits for a broker reply on {site.target or 'a computed topic'}"
            elif site.kind == "wait":
                what = "waits for a saga to finish"
            else:
                continue
            yield Finding(
                code="IL105",
                level=Level.WARNING,
                where=handler.where,
                message=f"a synchronous handler {what} ({site.line})",
                hint="its caller waits on queues and consumers it cannot see; answer at once "
                "(202 with an id to poll or an event), or make the step a direct call",
                source="static",
            )


def chatty(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    for handler in system.handlers:
        for site in handler.sites:
            if site.kind == "call" and site.in_loop:
                yield Finding(
                    code="IL110",
                    level=Level.INFO,
                    where=handler.where,
                    message=f"calls {site.target or 'an RPC'} inside a loop ({site.line})",
                    hint="one call per item multiplies latency and load; offer a batch RPC",
                    source="static",
                )
    counts: dict[tuple[str, str, str], int] = {}
    for call in seen.calls:
        key = (call.trace_id, call.caller_service, call.target_service)
        counts[key] = counts.get(key, 0) + 1
    most: dict[tuple[str, str], tuple[int, str]] = {}
    for (trace, a, b), n in counts.items():
        if n > most.get((a, b), (0, ""))[0]:
            most[(a, b)] = (n, trace)
    for (a, b), (n, trace) in sorted(most.items()):
        if n >= limits.chatty_calls:
            yield Finding(
                code="IL110",
                level=Level.WARNING,
                where=f"{a} → {b}",
                message=f"a chatty pair: {n} calls from {a} to {b} in one trace ({trace})",
                hint="batch the calls, or keep a local copy of the data the caller needs",
                source="traces",
            )


def retry_storms(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    attempts = {(e.source, e.target): e.attempts for e in system.edges}
    graph = make_graph(attempts)

    def product(path: list[str]) -> int:
        total = 1
        for pair in itertools.pairwise(path):
            total *= attempts[pair]
        return total

    for root in system.roots():
        path = heaviest_path(graph, root, product)
        if len(path) > 1 and product(path) >= limits.retry_product:
            yield Finding(
                code="IL112",
                level=Level.WARNING,
                where=root,
                message=f"a retry storm: up to {product(path)} attempts of {path[-1]} per run "
                f"(retries multiply along {' → '.join(path)})",
                hint="retry at one layer only (or give the retries a RetryBudget), and keep "
                "attempts x attempts under the threshold",
                source="static",
            )
    for trace, n in sorted(seen.retries.items()):
        if n >= limits.trace_retries:
            yield Finding(
                code="IL112",
                level=Level.WARNING,
                where=f"trace {trace}",
                message=f"a retry storm: {n} retried calls in one trace",
                hint="retry at one layer only, with a retry budget and backoff",
                source="traces",
            )


def endpoints(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    for handler in system.handlers:
        for site in handler.sites:
            if site.kind == "endpoint":
                yield Finding(
                    code="IL113",
                    level=Level.WARNING,
                    where=handler.where,
                    message=f"a hard-coded endpoint {site.target!r} ({site.line})",
                    hint="address services by name (ctx.call('service.method')) and let "
                    "discovery find them; put external addresses in configuration",
                    source="static",
                )
