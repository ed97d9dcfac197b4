"""Rules over events: IL106 topics nobody consumes, IL107 subscriptions nobody feeds,
IL108 at-least-once consumers without dedupe or an inbox."""

from __future__ import annotations

from collections.abc import Iterator

from interlink.doctor._findings import Finding, Level
from interlink.doctor._model import System
from interlink.doctor._observed import Observed
from interlink.doctor._settings import Thresholds

__all__ = ["no_dedupe", "unconsumed", "unfed"]

_SENDS = ("publish", "request", "send")


def _publishers(system: System, seen: Observed) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {t: set(s) for t, s in system.declared_topics.items()}
    for handler in system.handlers:
        for site in handler.sites:
            if site.kind in _SENDS and site.target is not None:
                found.setdefault(site.target, set()).add(handler.where)
    for topic, services in seen.published.items():
        found.setdefault(topic, set()).update(services)
    return found


def _consumers(system: System, seen: Observed) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for consumer in system.consumers:
        found.setdefault(consumer.topic, set()).add(consumer.where)
    for topic, services in seen.consumed.items():
        found.setdefault(topic, set()).update(services)
    return found


def unconsumed(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    consumers = _consumers(system, seen)
    for topic, publishers in sorted(_publishers(system, seen).items()):
        if topic not in consumers:
            yield Finding(
                code="IL106",
                level=Level.WARNING,
                where=topic,
                message=f"published ({', '.join(sorted(publishers))}) but nothing here "
                "subscribes to it",
                hint="a consumer in another App is fine; otherwise the events pile up unread "
                "(or requests time out): subscribe to it or stop publishing it",
                source=_source(
                    topic in seen.published, bool(publishers - seen.published.get(topic, set()))
                ),
            )


def unfed(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    publishers = _publishers(system, seen)
    dead_letters = {c.dead_letter_topic for c in system.consumers}
    for consumer in system.consumers:
        if consumer.topic in publishers or consumer.topic in dead_letters:
            continue
        yield Finding(
            code="IL107",
            level=Level.INFO,
            where=consumer.where,
            message=f"subscribes to {consumer.topic}, which nothing here publishes",
            hint="fine when another system publishes it; otherwise check the topic's spelling",
            source="static",
        )


def no_dedupe(system: System, seen: Observed, limits: Thresholds) -> Iterator[Finding]:
    for consumer in system.consumers:
        if consumer.durable and not consumer.dedupe and not consumer.inbox:
            yield Finding(
                code="IL108",
                level=Level.WARNING,
                where=consumer.where,
                message=f"consumes {consumer.topic} at least once with neither dedupe= nor "
                "inbox=: a redelivered event runs the handler again",
                hint="make the handler idempotent, or subscribe with dedupe=il.Dedupe(...) or "
                "inbox=il.Database(...)",
                source="static",
            )


def _source(traced: bool, declared: bool) -> str:
    return "+".join(s for s, on in (("static", declared), ("traces", traced)) if on) or "static"
