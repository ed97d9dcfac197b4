"""The processes of the shared rate-limit test.

``gateway``: a real Gateway, run with ``interlink gateway`` as its own process, whose
``/window`` and ``/bucket`` routes proxy to the ``upstream`` service found in the registry at
$INTERLINK_TEST_REGISTRY, each limited through the Redis at $INTERLINK_TEST_REDIS.
``upstream``: the service, run by uvicorn as its own process; it counts what reaches it and
tells the count at ``/count``."""

from __future__ import annotations

import json
import os
from collections import Counter

from starlette.types import Receive, Scope, Send

from interlink.gateway import Gateway, RateLimit, RedisStore, Route

LIMIT = int(os.environ.get("INTERLINK_TEST_LIMIT", "50"))


def _limit(algorithm: str) -> RateLimit:
    store = RedisStore(
        os.environ["INTERLINK_TEST_REDIS"], prefix=os.environ["INTERLINK_TEST_PREFIX"], timeout=10.0
    )
    return RateLimit(
        LIMIT,
        3600,
        algorithm=algorithm,  # type: ignore[arg-type]
        key="route",
        name=algorithm,
        store=store,
        on_store_error="deny",
    )


def _gateway() -> Gateway | None:
    registry = os.environ.get("INTERLINK_TEST_REGISTRY")
    if registry is None:  # imported by the upstream process
        return None
    return Gateway(
        [
            Route(path="/window", service="upstream", middleware=[_limit("sliding_window")]),
            Route(path="/bucket", service="upstream", middleware=[_limit("token_bucket")]),
        ],
        registry=registry,
    )


gateway = _gateway()
_seen: Counter[str] = Counter()


async def upstream(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/count":
        body = json.dumps(dict(_seen)).encode()
    else:
        _seen[scope["path"]] += 1
        body = b"ok"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
