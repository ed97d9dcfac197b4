"""The shop's edge: a web and a mobile backend-for-frontend in front of the services.

interlink up examples.shop:app          # the services, and this gateway on :8080
curl -X POST localhost:8080/api/web/orders -d '{"customer": "ada", "sku": "apple", "qty": 2}'
curl localhost:8080/api/mobile/orders/<order_id>
curl localhost:8080/api/web/order-page/<order_id>/apple
"""

from __future__ import annotations

from interlink._errors import CallError
from interlink.gateway import Aggregate, Bff, Gateway, Part, Route
from interlink.resilience import Backoff, Policy, Retry

# Reads are idempotent: retried on another instance when one fails; writes go once.
reads = Policy(timeout=2.0, retry=Retry(attempts=3, on=CallError, backoff=Backoff.constant(0.05)))

web = Bff(
    "web",
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
    routes=[
        Route(path="/orders", methods=["POST"], service="orders", rewrite="/rpc/orders/place"),
        Route(path="/orders/{order_id}", methods=["GET"], service="orders", policy=reads),
    ],
    project={"id": "order_id", "total": "total_cents"},  # small screens, small payloads
)

gateway = Gateway([web, mobile], registry="embedded")

__all__ = ["gateway"]
