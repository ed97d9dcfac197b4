"""When the feed's broker subscription breaks, its clients are told (1011) rather than left
waiting for events that were missed, and the feed subscribes again for new clients."""

from __future__ import annotations

from typing import Any

import interlink as il
from interlink.broker import Delivery, MemoryBroker, Subscription
from interlink.gateway import EventFeed
from tests.conftest import eventually
from tests.integration.gateway._serve import HeaderIdentity, next_event, serving, subscribe
from tests.integration.gateway.test_event_feed import (
    TOPIC,
    as_user,
    close_code,
    owner_only,
    publish,
)


class Breakable(MemoryBroker):
    """A memory broker whose private subscriptions fail on their next message once told to,
    as one whose connection was lost would."""

    def __init__(self) -> None:
        super().__init__()
        self.subscriptions: list[Failing] = []

    async def subscribe(self, topic: str, **options: Any) -> Any:
        failing = Failing(await super().subscribe(topic, **options))
        self.subscriptions.append(failing)
        return failing

    def break_all(self) -> None:
        for subscription in self.subscriptions:
            subscription.broken = True


class Failing:
    def __init__(self, inner: Subscription) -> None:
        self.inner = inner
        self.broken = False
        self.heartbeat = inner.heartbeat

    def __aiter__(self) -> Failing:
        return self

    async def __anext__(self) -> Delivery:
        delivery = await self.inner.__anext__()
        if self.broken:
            raise ConnectionError("lost the broker")
        return delivery

    async def close(self) -> None:
        await self.inner.close()


async def test_a_broken_subscription_closes_its_clients_with_1011_and_is_renewed() -> None:
    broker = Breakable()
    async with il.App([], broker=broker, serve_http=False) as app:
        feed = EventFeed(broker=broker, topics={TOPIC: owner_only})
        async with feed, serving(HeaderIdentity().wrap(feed)) as port:
            url = f"ws://127.0.0.1:{port}/"
            async with as_user(url, "alice") as ws:
                await subscribe(ws, TOPIC)
                assert len(broker.subscriptions) == 1
                broker.break_all()
                await publish(app, "lost", "alice", "placed")
                assert await close_code(ws) == 1011
            async with as_user(url, "alice") as ws:
                await subscribe(ws, TOPIC)
                await eventually(lambda: len(broker.subscriptions) == 2)
                await publish(app, "o-1", "alice", "placed")
                assert (await next_event(ws))["key"] == "o-1"
