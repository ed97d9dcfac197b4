"""The event feed and the GraphQL endpoint mounted on routes of a real Gateway: the route's
middleware (here a stand-in for JWT auth) sets the identity the feed filters by, and the
gateway's lifespan starts the feed."""

from __future__ import annotations

import aiohttp
from websockets.asyncio.client import connect

import interlink as il
from interlink.broker import MemoryBroker
from interlink.discovery import MemoryRegistry
from interlink.gateway import EventFeed, Gateway, Route, graphql_app
from tests.integration.gateway._serve import HeaderIdentity, next_event, serving, subscribe
from tests.integration.gateway.test_event_feed import TOPIC, close_code, owner_only, publish
from tests.integration.gateway.test_graphql import catalog


async def test_feed_and_graphql_served_through_gateway_routes() -> None:
    registry = MemoryRegistry()
    async with (
        il.App([catalog], registry=registry, port=0),
        il.App([], broker=MemoryBroker(), registry=registry, serve_http=False) as edge,
    ):
        feed = EventFeed(broker=edge, topics={TOPIC: owner_only})
        gateway = Gateway(
            [
                Route(path="/ws/orders", app=feed, middleware=[HeaderIdentity()]),
                Route(path="/graphql", app=graphql_app(edge, [catalog])),
            ],
            registry=registry,
        )
        async with serving(gateway, lifespan="on") as port, aiohttp.ClientSession() as http:
            url = f"ws://127.0.0.1:{port}/ws/orders"
            async with connect(url, additional_headers={"x-user": "alice"}) as alice:
                await subscribe(alice, TOPIC)
                await publish(edge, "o-1", "bob", "placed")
                await publish(edge, "o-2", "alice", "placed")
                assert (await next_event(alice))["key"] == "o-2"
            async with connect(url) as anonymous:
                assert await close_code(anonymous) == 4401
            query = {"query": '{ catalog_product(sku: "pear") { name } }'}
            async with http.post(f"http://127.0.0.1:{port}/graphql", json=query) as resp:
                assert await resp.json() == {"data": {"catalog_product": {"name": "Pear"}}}
