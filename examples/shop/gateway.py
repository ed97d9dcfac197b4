"""The shop's edge: a web and a mobile backend-for-frontend in front of the services, behind a
JWT login.

    interlink up examples.shop:app          # the services, and this gateway on :8080
    TOKEN=$(curl -s -X POST localhost:8080/api/login -H 'content-type: application/json' \\
            -d '{"customer": "ada"}' | python -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -X POST localhost:8080/api/web/orders -H "authorization: Bearer $TOKEN" \\
         -H 'content-type: application/json' -d '{"customer": "ada", "sku": "apple", "qty": 2}'
    curl localhost:8080/api/mobile/orders/<order_id> -H "authorization: Bearer $TOKEN"
    curl localhost:8080/api/web/order-page/<order_id>/apple -H "authorization: Bearer $TOKEN"
    # WebSocket ws://localhost:8080/ws/orders?access_token=$TOKEN, then send
    #   {"op": "subscribe", "topic": "orders.placed"}: your own orders' events arrive

The gateway checks tokens against the auth service's key set, fetched through the gateway
itself (``/auth/jwks.json``, on the port ``INTERLINK_GATEWAY_PORT`` names, 8080 by default;
``SHOP_JWKS_URL`` overrides the whole URL).
"""

from __future__ import annotations

import os
from typing import Any

import interlink as il
from examples.shop.auth import AUDIENCE, ISSUER
from interlink._errors import CallError
from interlink.gateway import (
    Aggregate,
    Bff,
    EventFeed,
    FeedEvent,
    Gateway,
    Identity,
    JwtAuth,
    Part,
    RateLimit,
    Route,
)
from interlink.resilience import Backoff, Policy, Retry

PORT = os.environ.get("INTERLINK_GATEWAY_PORT", "8080")
JWKS_URL = os.environ.get("SHOP_JWKS_URL", f"http://127.0.0.1:{PORT}/auth/jwks.json")

# Reads are idempotent: retried on another instance when one fails; writes go once.
reads = Policy(timeout=2.0, retry=Retry(attempts=3, on=CallError, backoff=Backoff.constant(0.05)))
signed_in = JwtAuth(jwks_url=JWKS_URL, issuer=ISSUER, audience=AUDIENCE, algorithms=["ES256"])
per_customer = RateLimit(50, per=1.0, key="subject")

web = Bff(
    "web",
    middleware=[signed_in, per_customer],
    routes=[
        Route(path="/orders", methods=["POST"], service="orders", rewrite="/rpc/orders/place"),
        Route(path="/orders/{order_id}", methods=["GET"], service="orders", policy=reads),
        Route(path="/inventory/{sku}", methods=["GET"], service="inventory", policy=reads),
        Route(
            path="/order-page/{order_id}/{sku}",
            aggregate=Aggregate(
                {
                    "order": Part(service="orders", path="/orders/{order_id}", policy=reads),
                    "stock": Part(service="inventory", path="/inventory/{sku}", fallback=None),
                }
            ),
        ),
    ],
)

mobile = Bff(
    "mobile",
    middleware=[signed_in, per_customer],
    routes=[
        Route(path="/orders", methods=["POST"], service="orders", rewrite="/rpc/orders/place"),
        Route(path="/orders/{order_id}", methods=["GET"], service="orders", policy=reads),
    ],
    project={"id": "order_id", "total": "total_cents"},  # small screens, small payloads
)


def own_orders(identity: Identity | None, event: FeedEvent) -> bool:
    """A customer sees the events of their own orders only."""
    data: Any = event.data
    return (
        identity is not None and isinstance(data, dict) and data.get("customer") == identity.subject
    )


class OrderFeed:
    """The WebSocket feed of ``orders.placed``, with the broker connection it reads from; the
    gateway opens and closes it (it is an async context manager)."""

    def __init__(self) -> None:
        directory = os.environ.get("INTERLINK_DIR", ".interlink")
        self._events = il.App(
            [il.Service("shop-gateway")],
            broker="embedded",
            registry="embedded",
            directory=directory,
            serve_http=False,
        )
        self.feed = EventFeed(broker=self._events, topics={"orders.placed": own_orders})

    async def __aenter__(self) -> OrderFeed:
        await self._events.__aenter__()
        await self.feed.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.feed.__aexit__(*exc_info)
        await self._events.__aexit__(*exc_info)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.feed(scope, receive, send)


# Browsers cannot set headers on a WebSocket: the token may come as ?access_token=...
feed_auth = JwtAuth(
    jwks_url=JWKS_URL,
    issuer=ISSUER,
    audience=AUDIENCE,
    algorithms=["ES256"],
    query_param="access_token",
)

gateway = Gateway(
    [
        Route(path="/api/login", methods=["POST"], service="auth", rewrite="/rpc/auth/login"),
        Route(path="/auth/jwks.json", methods=["GET"], service="auth"),
        Route(path="/ws/orders", app=OrderFeed(), middleware=[feed_auth]),
        web,
        mobile,
    ],
    registry="embedded",
)

__all__ = ["gateway"]
