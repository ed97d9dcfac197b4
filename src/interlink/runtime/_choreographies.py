"""Choreography trackers run by an App: fed from the broker, expiring on their own clock.

Each tracker gets one subscription per topic it observes (its start, expected and failure
events), in the group ``choreography-{name}``, so every instance of the App shares them and the
tracker sees each event once per group. An event that arrives before its process's start event
(they travel on different topics, so this happens) fails with ``ProcessNotStarted`` and is
retried by the consumer with backoff until the start event has been observed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from interlink._context import Context
from interlink._service import Service

if TYPE_CHECKING:
    from interlink._handlers import Subscriber
    from interlink.saga import Choreography

__all__ = ["tracker_subscribers"]


def tracker_subscribers(tracker: Choreography) -> list[Subscriber[Any]]:
    """The subscriptions that feed ``tracker`` every event of its flow."""
    service = Service(f"choreography-{tracker.name}")
    subscribe = service.subscribe
    for topic in tracker.topics:
        subscribe(topic, group=f"choreography-{tracker.name}")(_observer(tracker, topic))
    return list(service.subscribers)


def _observer(tracker: Choreography, topic: str) -> Callable[[Any, Context], Awaitable[None]]:
    async def observe(event: Any, ctx: Context) -> None:
        if ctx.envelope is not None:
            await tracker.observe(ctx.envelope, topic=topic)

    return observe
