"""The shop's edge: a web and a mobile backend-for-frontend in front of the services, behind a
JWT login.

    interlink up examples.shop:app          # the services, and this gateway on :8080
    TOKEN=$(curl -s -X POST localhost:8080/api/login -H 'content-type: application/json' \\
            -d '{"customer": "ada"}' | python -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -X POST localhost:8080/api/web/orders -H "authorization: Bearer $TOKEN" \\
         -H 'content-type: application/json' -d '{"customer": "ada", "sku": "apple", "qty": 2}'
    curl localhost:8080/api/mobile/orders/<order_id> -H "authorization: Bearer $TOKEN"
    curl localhost:8080/api/web/order-page/<order_id>/apple -H "authorization: Bearer $TOKEN"

The gateway checks tokens against the auth service's key set, fetched through the gateway
itself (``/auth/jwks.json``, on the port ``INTERLINK_GATEWAY_PORT`` names, 8080 by default;
``SHOP_JWKS_URL`` overrides the whole URL).
"""

from __future__ import annotations

import os

from examples.shop.auth import AUDIENCE, ISSUER
from interlink._errors import CallError
from interlink.gateway import Aggregate, Bff, Gateway, JwtAuth, Part, RateLimit, Route
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

gateway = Gateway(
    [
        Route(path="/api/login", methods=["POST"], service="auth", rewrite="/rpc/auth/login"),
        Route(path="/auth/jwks.json", methods=["GET"], service="auth"),
        web,
        mobile,
    ],
    registry="embedded",
)

__all__ = ["gateway"]
