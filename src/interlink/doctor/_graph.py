"""Small graph helpers over ``{node: {successors}}``: longest simple paths, strongly connected
components. The graphs are a system's handlers or services, so tens to hundreds of nodes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

__all__ = ["Graph", "components", "heaviest_path", "longest_path", "make_graph"]

Graph = dict[str, set[str]]
MAX_STEPS = 100_000
"""Path searches give up their exploring past this many steps (and report what they found)."""


def make_graph(pairs: Iterable[tuple[str, str]]) -> Graph:
    graph: Graph = {}
    for source, target in pairs:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    return graph


def longest_path(graph: Mapping[str, set[str]], start: str) -> list[str]:
    """The longest path from ``start`` that visits no node twice."""
    return heaviest_path(graph, start, len)


def heaviest_path(
    graph: Mapping[str, set[str]], start: str, weight: Callable[[list[str]], int]
) -> list[str]:
    """The simple path from ``start`` with the greatest ``weight(path)`` (bounded search)."""
    best = [start]
    best_weight = weight(best)
    stack: list[list[str]] = [[start]]
    steps = 0
    while stack and steps < MAX_STEPS:
        steps += 1
        path = stack.pop()
        if (w := weight(path)) > best_weight:
            best, best_weight = path, w
        for nxt in sorted(graph.get(path[-1], ()), reverse=True):
            if nxt not in path:
                stack.append([*path, nxt])
    return best


def components(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with two or more nodes, each as a cycle through them
    (first node repeated at the end), smallest node first."""
    found: list[list[str]] = []
    done: set[str] = set()
    for node in sorted(graph):
        if node in done:
            continue
        group = {n for n in _reach(graph, node) if node in _reach(graph, n)}
        done |= group
        if len(group) > 1:
            found.append(_cycle(graph, min(group), group))
    return found


def _reach(graph: Mapping[str, set[str]], start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycle(graph: Mapping[str, set[str]], start: str, group: set[str]) -> list[str]:
    """A shortest cycle from ``start`` back to itself inside ``group`` (breadth first)."""
    paths = [[start]]
    while paths:
        following: list[list[str]] = []
        for path in paths:
            for nxt in sorted(graph.get(path[-1], set()) & group):
                if nxt == start:
                    return [*path, start]
                if nxt not in path:
                    following.append([*path, nxt])
        paths = following
    return [start, start]
