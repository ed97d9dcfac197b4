"""What an App subscribes for its sagas: command replies to the engine, and every event of a
choreographed flow to its tracker.

A saga's engine gets the replies to its commands from ``sagas.{name}.replies`` (group
``saga-{name}``, so every instance shares them; a reply that no attempt here waits for is stored
in its saga's state).

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
    from interlink.saga import Choreography, SagaEngine

__all__ = ["reply_subscribers", "tracker_subscribers"]


def reply_subscribers(engine: SagaEngine) -> list[Subscriber[Any]]:
    """One subscription per saga of ``engine``: its commands' replies."""
    from interlink.saga._commands import reply_topic

    subscribers: list[Subscriber[Any]] = []
    for name in engine.sagas:
        service = Service(f"saga-{name}")

        @service.subscribe(reply_topic(name), group=f"saga-{name}")
        async def replied(reply: Any, ctx: Context) -> None:
            if ctx.envelope is not None:
                await engine.on_reply(ctx.envelope)

        subscribers += service.subscribers
    return subscribers


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
