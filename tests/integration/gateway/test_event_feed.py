"""EventFeed through real sockets: uvicorn serving it, `websockets` clients, events published
by an App on a memory broker (and on a real NATS server in test_event_feed_nats.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

import interlink as il
from interlink.broker import MemoryBroker
from interlink.gateway import EventFeed, FeedEvent, Identity, allow_all
from tests.conftest import eventually
from tests.integration.gateway._serve import (
    HeaderIdentity,
    next_event,
    receive_json,
    serving,
    subscribe,
)

TOPIC = "orders.status"


class OrderStatus(BaseModel):
    order_id: str
    owner: str
    status: str
    note: str = ""


def owner_only(identity: Identity | None, event: FeedEvent) -> bool:
    return identity is not None and event.data["owner"] == identity.subject


@contextlib.asynccontextmanager
async def running(**options: Any) -> AsyncIterator[tuple[il.App, EventFeed, str]]:
    """An App publishing on a memory broker and a feed over it, served behind the identity
    stand-in; yields the app, the feed and the WebSocket URL."""
    options.setdefault("topics", {TOPIC: owner_only})
    async with il.App([], broker=MemoryBroker(), serve_http=False) as app:
        feed = EventFeed(broker=app, **options)
        async with feed, serving(HeaderIdentity().wrap(feed)) as port:
            yield app, feed, f"ws://127.0.0.1:{port}/"


def as_user(url: str, user: str | None, **options: Any) -> Any:
    headers = {} if user is None else {"x-user": user}
    return connect(url, additional_headers=headers, open_timeout=10, **options)


async def publish(app: il.App, order: str, owner: str, status: str, note: str = "") -> None:
    await app.publish(
        TOPIC, OrderStatus(order_id=order, owner=owner, status=status, note=note), key=order
    )


async def close_code(ws: ClientConnection, *, timeout: float = 10.0) -> int | None:
    """Read until the server closes; the code it closed with."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                await ws.recv()
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None


async def test_events_are_pushed_only_to_the_identities_allowed_to_see_them() -> None:
    async with (
        running() as (app, feed, url),
        as_user(url, "alice") as alice,
        as_user(url, "bob") as bob,
    ):
        await subscribe(alice, TOPIC)
        await subscribe(bob, TOPIC)
        await publish(app, "o-1", "alice", "placed")
        await publish(app, "o-2", "bob", "placed")
        await publish(app, "o-1", "alice", "paid")
        first, second = await next_event(alice), await next_event(alice)
        assert (first["type"], first["topic"], first["key"]) == ("event", TOPIC, "o-1")
        assert first["data"] == {
            "order_id": "o-1",
            "owner": "alice",
            "status": "placed",
            "note": "",
        }
        assert first["id"]
        assert first["time"]
        assert second["data"]["status"] == "paid"  # bob's event in between never reached alice
        assert (await next_event(bob))["data"]["order_id"] == "o-2"
        await publish(app, "o-3", "bob", "shipped")
        assert (await next_event(bob))["data"]["order_id"] == "o-3"
        assert feed.stats().events == 4  # one broker subscription, whatever the connections


async def test_a_key_subscription_gets_only_that_key_and_unsubscribe_stops_it() -> None:
    async with running(topics=[TOPIC], allow=allow_all) as (app, _, url), as_user(url, "c") as ws:
        await subscribe(ws, TOPIC, "o-1")
        await publish(app, "o-2", "x", "placed")
        await publish(app, "o-1", "y", "placed")
        assert (await next_event(ws))["key"] == "o-1"
        await ws.send(json.dumps({"op": "unsubscribe", "topic": TOPIC, "key": "o-1"}))
        assert await next_event(ws) == {"type": "unsubscribed", "topic": TOPIC, "key": "o-1"}
        await publish(app, "o-1", "y", "paid")
        await subscribe(ws, TOPIC, "o-2")
        await publish(app, "o-2", "x", "paid")
        pushed = await next_event(ws)
        assert (pushed["key"], pushed["data"]["status"]) == ("o-2", "paid")


async def test_without_an_identity_the_connection_is_closed_with_4401() -> None:
    async with running() as (_, feed, url), as_user(url, None) as ws:
        assert await close_code(ws) == 4401
        assert feed.stats().connections == 0


async def test_bad_frames_and_unknown_topics_get_error_frames() -> None:
    async with running(max_subscriptions=1) as (_, _, url), as_user(url, "a") as ws:
        await ws.send("not json")
        assert (await next_event(ws))["error"]["type"] == "BadFrame"
        await ws.send(json.dumps({"op": "subscribe", "topic": "payments"}))
        assert (await next_event(ws))["error"]["type"] == "UnknownTopic"
        await subscribe(ws, TOPIC, "o-1")
        await ws.send(json.dumps({"op": "subscribe", "topic": TOPIC, "key": "o-2"}))
        assert (await next_event(ws))["error"]["type"] == "TooManySubscriptions"
        await ws.send(json.dumps({"op": "ping"}))
        assert await next_event(ws) == {"type": "pong"}
        await ws.send("x" * 5000)
        assert await close_code(ws) == 1009


async def test_heartbeats_keep_an_answering_client_and_idle_ones_are_closed() -> None:
    async with running(heartbeat=0.05, idle_timeout=2.0) as (_, _, url), as_user(url, "a") as ws:
        for _ in range(5):
            assert await receive_json(ws) == {"type": "ping"}
            await ws.send(json.dumps({"op": "pong"}))
        await subscribe(ws, TOPIC)  # still open after five heartbeats
    async with running(heartbeat=None, idle_timeout=0.3) as (_, feed, url), as_user(url, "a") as ws:
        assert await close_code(ws) == 4408
        await eventually(lambda: feed.stats().connections == 0)


async def test_a_slow_client_is_dropped_with_1013_and_its_queue_stays_bounded() -> None:
    big = "x" * (256 << 10)
    async with (
        running(topics=[TOPIC], allow=allow_all, max_queue=4, close_timeout=30) as (app, feed, url),
        as_user(url, "fast") as fast,
        as_user(url, "slow", max_queue=1, compression=None) as slow,
    ):
        await subscribe(fast, TOPIC)
        await subscribe(slow, TOPIC)
        sent = 0
        # The slow client reads nothing (and compresses nothing): its socket buffers fill,
        # then its feed queue.
        while feed.stats().dropped_slow == 0:
            assert sent < 200, "the slow client was never dropped"
            await publish(app, f"o-{sent}", "x", "placed", note=big)
            assert (await next_event(fast))["key"] == f"o-{sent}"  # the fast one keeps up
            sent += 1
        assert feed.stats().peak_queue <= 4
        assert feed.stats().dropped_slow == 1
        assert await close_code(slow, timeout=30) == 1013
        await publish(app, "after", "x", "placed")
        assert (await next_event(fast))["key"] == "after"
        await eventually(lambda: feed.stats().connections == 1)


async def test_many_clients_each_get_the_event_once() -> None:
    async with (
        running(topics=[TOPIC], allow=allow_all) as (app, feed, url),
        contextlib.AsyncExitStack() as stack,
    ):
        clients = [await stack.enter_async_context(as_user(url, f"u{i}")) for i in range(40)]
        for ws in clients:
            await subscribe(ws, TOPIC)
        await publish(app, "o-1", "x", "placed")
        keys = await asyncio.gather(*(next_event(ws) for ws in clients))
        assert {frame["key"] for frame in keys} == {"o-1"}
        assert (feed.stats().events, feed.stats().pushed) == (1, 40)


async def test_stopping_the_feed_closes_connections_with_1001() -> None:
    async with il.App([], broker=MemoryBroker(), serve_http=False) as app:
        feed = EventFeed(broker=app, topics=[TOPIC], allow=allow_all)
        async with (
            serving(HeaderIdentity().wrap(feed)) as port,
            feed,
            as_user(f"ws://127.0.0.1:{port}/", "a") as ws,
        ):
            await subscribe(ws, TOPIC)
            await feed.__aexit__(None, None, None)
            assert await close_code(ws) == 1001
