"""The event feed behind the real JwtAuth on a Gateway route: the token's subject decides what
is pushed, a bad token never gets a connection, and an expired token ends it (4401)."""

from __future__ import annotations

import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import interlink as il
from interlink.broker import MemoryBroker
from interlink.gateway import EventFeed, Gateway, JwtAuth, Route
from tests.integration.gateway._edge_support import JwksServer, Signer
from tests.integration.gateway._edge_support import serving as serving_http
from tests.integration.gateway._serve import next_event, serving, subscribe
from tests.integration.gateway.test_event_feed import TOPIC, close_code, owner_only, publish


async def test_the_token_decides_what_is_pushed_and_its_expiry_ends_the_connection() -> None:
    signer, keys = Signer("k1"), JwksServer()
    keys.keys = [signer.jwk]
    async with (
        il.App([], broker=MemoryBroker(), serve_http=False) as app,
        serving_http(keys) as jwks_base,
    ):
        auth = JwtAuth(
            jwks_url=f"{jwks_base}/jwks",
            issuer="https://issuer.test",
            audience="shop",
            query_param="access_token",  # browsers cannot set headers on a WebSocket
        )
        feed = EventFeed(broker=app, topics={TOPIC: owner_only}, heartbeat=None)
        gateway = Gateway([Route(path="/ws/orders", app=feed, middleware=[auth])])
        async with serving(gateway, lifespan="on") as port:
            url = f"ws://127.0.0.1:{port}/ws/orders?access_token="
            async with connect(url + signer.token(sub="ada")) as ada:
                await subscribe(ada, TOPIC)
                await publish(app, "o-1", "bob", "placed")
                await publish(app, "o-2", "ada", "placed")
                assert (await next_event(ada))["key"] == "o-2"
            with pytest.raises(InvalidStatus):
                async with connect(url + "not-a-token"):
                    pass
            soon = int(time.time()) + 2
            async with connect(url + signer.token(sub="ada", exp=soon)) as ada:
                await subscribe(ada, TOPIC)
                assert await close_code(ada, timeout=15) == 4401
            assert time.time() >= soon - 1  # closed because it expired, not before
