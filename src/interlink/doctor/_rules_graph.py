"""Rules over the shape of the synchronous call graph: IL101 chain depth, IL102 cycles,
IL109 fan-out, IL111 hub services."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from interlink.doctor._findings import Finding, Level
from interlink.doctor._graph import components, longest_path, make_graph
from interlink.doctor._model import System
from interlink.doctor._observed import Observed
from interlink.doctor._settings import Thresholds

__all__ = ["chain_depth", "cycles", "fan_out", "hubs"]


def chain_depth(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    graph = make_graph((e.source, e.target) for e in system.edges)
    for root in system.roots():
        path = longest_path(graph, root)
        if len(path) - 1 >= limits.chain_depth:
            yield _deep(path, "static", "declared")
    by_path: dict[tuple[str, ...], list[str]] = {}
    for trace, chain in sorted(seen.chains.items()):
        if len(chain) - 1 >= limits.chain_depth:
            by_path.setdefault(tuple(chain), []).append(trace)
    for chain_key, traces in by_path.items():
        yield _deep(list(chain_key), "traces", f"seen in {len(traces)} trace(s), e.g. {traces[0]}")


def _deep(path: list[str], source: str, how: str) -> Finding:
    return Finding(
        code="IL101",
        level=Level.WARNING,
        where=path[0],
        message=f"{len(path) - 1} synchronous calls in a row ({how}): {' → '.join(path)}",
        hint="each hop adds latency and a way to fail; answer from local data, or turn the "
        "deeper steps into events",
        source=source,
    )


def _service_pairs(system: System, seen: Observed) -> set[tuple[str, str, str]]:
    pairs = {(e.source.split(".")[0], e.target.split(".")[0], "static") for e in system.edges}
    pairs |= {(c.caller_service, c.target_service, "traces") for c in seen.calls}
    return {(a, b, how) for a, b, how in pairs if a != b}


def cycles(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    pairs = _service_pairs(system, seen)
    graph = make_graph((a, b) for a, b, _ in pairs)
    for cycle in components(graph):
        hops = set(itertools.pairwise(cycle))
        sources = sorted({how for a, b, how in pairs if (a, b) in hops})
        yield Finding(
            code="IL102",
            level=Level.ERROR,
            where=cycle[0],
            message=f"synchronous calls go round a cycle: {' → '.join(cycle)}",
            hint="a cycle deadlocks under load and cannot be deployed one service at a time; "
            "break one edge with an event, or move the shared logic into one service",
            source="+".join(sources),
        )


def fan_out(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    targets: dict[str, set[str]] = {}
    for edge in system.edges:
        targets.setdefault(edge.source, set()).add(edge.target)
    for source, called in sorted(targets.items()):
        if len(called) >= limits.fan_out:
            yield _wide(source, called, "static")
    per_run: dict[tuple[str, str], set[str]] = {}
    for call in seen.calls:
        per_run.setdefault((call.trace_id, call.caller), set()).add(call.target)
    widest: dict[str, set[str]] = {}
    for (_, caller), called in per_run.items():
        if len(called) > len(widest.get(caller, ())):
            widest[caller] = called
    for caller, called in sorted(widest.items()):
        if len(called) >= limits.fan_out:
            yield _wide(caller, called, "traces")


def _wide(source: str, called: set[str], how: str) -> Finding:
    return Finding(
        code="IL109",
        level=Level.WARNING,
        where=source,
        message=f"calls {len(called)} RPCs synchronously ({how}): {', '.join(sorted(called))}",
        hint="the slowest answer sets the latency and any failure fails the whole; keep "
        "copies of the data from events, or aggregate at the edge",
        source=how,
    )


def hubs(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    pairs = _service_pairs(system, seen)
    neighbours: dict[str, set[str]] = {}
    sources: dict[str, set[str]] = {}
    for a, b, how in pairs:
        for one, other in ((a, b), (b, a)):
            neighbours.setdefault(one, set()).add(other)
            sources.setdefault(one, set()).add(how)
    for service, near in sorted(neighbours.items()):
        if len(near) >= limits.hub_degree:
            yield Finding(
                code="IL111",
                level=Level.WARNING,
                where=service,
                message=f"a hub: {len(near)} services call it or are called by it "
                f"synchronously ({', '.join(sorted(near))})",
                hint="every one of them fails when it does; split it by capability, or let "
                "its neighbours talk through events",
                source="+".join(sorted(sources[service])),
            )
