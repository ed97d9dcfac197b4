"""The declared system: an App's services, handlers, consumers and policies, plus the calls
and publishes their source shows (``_source``)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from interlink._app import App
from interlink.doctor._model import Consumer, Edge, Guard, Handler, Site, System
from interlink.doctor._source import scan
from interlink.resilience import Policy

__all__ = ["declared"]


def declared(app: App) -> System:
    system = System(services=set(app.services))
    for service in app.services.values():
        for rpc in service.rpcs.values():
            system.rpcs.add(rpc.target)
            sites = scan(rpc.fn, rpc.context_param)
            system.handlers.append(
                Handler(service=service.name, name=rpc.name, kind="rpc", sites=sites)
            )
        for route in service.routes.values():
            sites = scan(route.fn, None)
            system.handlers.append(
                Handler(service=service.name, name=route.name, kind="route", sites=sites)
            )
        for sub in service.subscribers:
            sites = scan(sub.fn, sub.context_param)
            system.handlers.append(
                Handler(service=service.name, name=sub.name, kind="subscriber", sites=sites)
            )
            system.consumers.append(_consumer(sub))
        for topic in service.publishes:
            system.declared_topics.setdefault(topic, set()).add(service.name)
    system.handlers.extend(_steps(app, system.handlers))
    targets = {str(site.target).split(".")[0] for h in system.handlers for site in _calls(h)}
    for target in sorted(targets | system.services):
        system.guards[target] = guard(app, target)
    system.edges = list(_edges(system))
    return system


def guard(app: App, service: str) -> Guard:
    """What the App's policy for calls to ``service`` bounds (a factory is built once to see)."""
    spec = app.policies.get(service, app.default_policy)
    if spec is None:
        return Guard(timeout=None, breaker=False, attempts=1)
    policy: Policy = spec if isinstance(spec, Policy) else spec(service, app.clock)
    timeout = policy.deadline
    if timeout is None and policy.timeout is not None:
        timeout = policy.timeout.seconds
    retry = policy.retry
    attempts = 1 if retry is None or retry.budget is not None else retry.attempts
    return Guard(timeout=timeout, breaker=policy.breaker is not None, attempts=attempts)


def _consumer(sub: Any) -> Consumer:
    return Consumer(
        service=sub.service,
        name=sub.name,
        topic=sub.topic,
        group=sub.group,
        dedupe=sub.dedupe is not None,
        inbox=sub.inbox is not None,
        durable=sub.durable,
        dead_letter_topic=sub.dead_letter_topic,
    )


def _steps(app: App, handlers: list[Handler]) -> Iterator[Handler]:
    """Saga steps run where the saga is started: in the first service whose handler starts it
    (or, when none does, under the saga's own name)."""
    starters: dict[str, str] = {}
    for handler in handlers:
        for site in handler.sites:
            if site.kind == "saga" and site.target is not None:
                starters.setdefault(site.target, handler.service)
    for saga in app.saga_definitions:
        service = starters.get(saga.name, saga.name)
        for step in saga.steps:
            attempts = step.retry.max_attempts or 1
            for action, suffix in ((step.action, ""), (step.compensate, ".compensate")):
                if action is None:
                    continue
                yield Handler(
                    service=service,
                    name=f"{saga.name}.{step.name}{suffix}",
                    kind="step",
                    sites=scan(action, _second_param(action)),
                    step_attempts=attempts,
                    saga=saga.name,
                )


def _second_param(fn: Any) -> str | None:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return params[1] if len(params) > 1 else None


def _calls(handler: Handler) -> Iterator[Site]:
    return (s for s in handler.sites if s.kind == "call" and s.target is not None)


def _edges(system: System) -> Iterator[Edge]:
    steps: dict[str, list[Handler]] = {}
    for handler in system.handlers:
        if handler.saga is not None and not handler.name.endswith(".compensate"):
            steps.setdefault(handler.saga, []).append(handler)
    for handler in system.handlers:
        yield from _direct(system, handler, handler.where, handler.step_attempts)
        # A handler that starts a saga and waits for it blocks on the saga's calls too.
        if any(s.kind == "wait" for s in handler.sites):
            for saga in (s.target for s in handler.sites if s.kind == "saga" and s.target):
                for step in steps.get(saga, []):
                    system.inlined.add(step.where)
                    yield from _direct(system, step, handler.where, step.step_attempts)


def _direct(system: System, handler: Handler, source: str, multiplier: int) -> Iterator[Edge]:
    for site in _calls(handler):
        assert site.target is not None
        guard = system.guards[site.target.split(".")[0]]
        yield Edge(
            source=source,
            target=site.target,
            attempts=guard.attempts * multiplier,
            line=site.line,
            timeout=site.timeout,
        )
