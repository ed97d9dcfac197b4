"""A gateway replica for the shared rate-limit test, run as its own uvicorn process:
``/bucket`` and ``/window`` are limited through the Redis at $INTERLINK_TEST_REDIS."""

from __future__ import annotations

import os

from starlette.types import Receive, Scope, Send

from interlink.gateway import RateLimit, RedisStore

LIMIT = int(os.environ.get("INTERLINK_TEST_LIMIT", "50"))
_url = os.environ["INTERLINK_TEST_REDIS"]
_prefix = os.environ["INTERLINK_TEST_PREFIX"]


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _limit(algorithm: str) -> RateLimit:
    store = RedisStore(_url, prefix=_prefix, timeout=10.0)
    return RateLimit(
        LIMIT,
        3600,
        algorithm=algorithm,
        key="route",
        store=store,
        on_store_error="deny",  # type: ignore[arg-type]
    )


_limits = {"/bucket": _limit("token_bucket"), "/window": _limit("sliding_window")}
_routes = {path: limit.wrap(ok) for path, limit in _limits.items()}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        for limit in _limits.values():
            await limit.aclose()
        await send({"type": "lifespan.shutdown.complete"})
        return
    route = _routes.get(scope["path"])
    await (route or ok)(scope, receive, send)
