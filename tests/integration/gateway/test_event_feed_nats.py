"""EventFeed on a real NATS JetStream server: two feeds (two gateway replicas) each push every
event to their own clients, filtered by identity."""

from __future__ import annotations

import contextlib

import interlink as il
from interlink.broker import broker_from_url
from interlink.gateway import EventFeed
from tests.conftest import NatsServer
from tests.integration.gateway._serve import HeaderIdentity, next_event, serving, subscribe
from tests.integration.gateway.test_event_feed import TOPIC, as_user, owner_only, publish


async def test_every_replica_pushes_every_event_from_nats(nats_server: NatsServer) -> None:
    broker = broker_from_url(nats_server.url)
    await broker.connect()
    try:
        async with contextlib.AsyncExitStack() as stack:
            app = await stack.enter_async_context(il.App([], broker=broker, serve_http=False))
            urls = []
            # One replica connects by URL (its own connection), the other shares the App's.
            for source in (nats_server.url, broker):
                feed = await stack.enter_async_context(
                    EventFeed(broker=source, topics={TOPIC: owner_only})
                )
                port = await stack.enter_async_context(serving(HeaderIdentity().wrap(feed)))
                urls.append(f"ws://127.0.0.1:{port}/")
            alice = [await stack.enter_async_context(as_user(url, "alice")) for url in urls]
            bob = await stack.enter_async_context(as_user(urls[1], "bob"))
            for ws in [*alice, bob]:
                await subscribe(ws, TOPIC)
            await publish(app, "o-1", "alice", "placed")
            await publish(app, "o-2", "bob", "placed")
            for ws in alice:
                assert (await next_event(ws))["data"]["order_id"] == "o-1"
            assert (await next_event(bob))["data"]["order_id"] == "o-2"
    finally:
        await broker.close()
