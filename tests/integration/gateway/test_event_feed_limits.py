"""The feed's documented edges: connection limit, not running, plain HTTP, binary frames,
duplicate subscriptions, anonymous feeds, and messages that are not interlink envelopes."""

from __future__ import annotations

import json

import aiohttp

import interlink as il
from interlink.broker import MemoryBroker
from interlink.gateway import EventFeed, FeedEvent, Identity, allow_all
from tests.conftest import eventually
from tests.integration.gateway._serve import HeaderIdentity, next_event, serving, subscribe
from tests.integration.gateway.test_event_feed import (
    TOPIC,
    as_user,
    close_code,
    publish,
    running,
)


async def test_past_max_connections_and_before_start_a_connection_is_closed_with_1013() -> None:
    async with running(topics=[TOPIC], allow=allow_all, max_connections=1) as (_, feed, url):
        async with as_user(url, "a") as first, as_user(url, "b") as second:
            await subscribe(first, TOPIC)
            assert await close_code(second) == 1013
        await eventually(lambda: feed.stats().connections == 0)
        async with as_user(url, "c") as again:  # the first one left: room again
            await subscribe(again, TOPIC)
    idle = EventFeed(broker=MemoryBroker(), topics=[TOPIC], allow=allow_all)
    async with (
        serving(HeaderIdentity().wrap(idle)) as port,
        as_user(f"ws://127.0.0.1:{port}/", "a") as ws,
    ):
        assert await close_code(ws) == 1013


async def test_plain_http_gets_426_with_an_error_body() -> None:
    async with (
        running() as (_, _, url),
        aiohttp.ClientSession() as http,
        http.get(url.replace("ws://", "http://")) as resp,
    ):
        assert resp.status == 426
        assert (await resp.json())["error"]["type"] == "UpgradeRequired"


async def test_binary_frames_and_duplicate_subscriptions() -> None:
    async with (
        running(topics=[TOPIC], allow=allow_all, max_subscriptions=1) as (app, feed, url),
        as_user(url, "a") as ws,
    ):
        await ws.send(b"{}")
        assert (await next_event(ws))["error"]["type"] == "BadFrame"
        await subscribe(ws, TOPIC)
        await subscribe(ws, TOPIC)  # the same one again: no TooManySubscriptions
        await ws.send(json.dumps({"op": "subscribe", "topic": TOPIC, "key": "o-1"}))
        assert (await next_event(ws))["error"]["type"] == "TooManySubscriptions"
        await publish(app, "o-1", "x", "placed")
        assert (await next_event(ws))["key"] == "o-1"
        assert feed.stats().pushed == 1


async def test_an_anonymous_feed_and_messages_that_are_not_envelopes() -> None:
    seen: list[Identity | None] = []

    def record(identity: Identity | None, event: FeedEvent) -> bool:
        seen.append(identity)
        return event.envelope is None

    broker = MemoryBroker()
    async with (
        il.App([], broker=broker, serve_http=False),
        EventFeed(broker=broker, topics={TOPIC: record}, require_identity=False) as feed,
        serving(feed) as port,
        as_user(f"ws://127.0.0.1:{port}/", None) as ws,
    ):
        await subscribe(ws, TOPIC)
        await broker.publish(TOPIC, b"not json", key="k")
        await broker.publish(TOPIC, b'{"plain": true}', key="k")
        assert await next_event(ws) == {
            "type": "event",
            "topic": TOPIC,
            "key": "k",
            "data": {"plain": True},
        }
        assert seen == [None]
        assert feed.stats().undecodable == 1
