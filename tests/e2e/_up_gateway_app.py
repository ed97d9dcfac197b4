"""The app of tests/e2e/test_up_gateway_port.py: one service and a gateway routing to it; the
gateway's ``/port`` answers the ``INTERLINK_GATEWAY_PORT`` its process was given."""

from __future__ import annotations

import os
from typing import Any

import interlink as il
from interlink.gateway import Gateway, Route

echo = il.Service("echo")


@echo.rpc(idempotent=True)
async def ping(req: dict[str, int]) -> dict[str, int]:
    return {"pong": req.get("n", 0)}


async def own_port(scope: Any, receive: Any, send: Any) -> None:
    body = os.environ.get("INTERLINK_GATEWAY_PORT", "").encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


app = il.App([echo])
gateway = Gateway(
    [
        Route(path="/ping", methods=["POST"], service="echo", rewrite="/rpc/echo/ping"),
        Route(path="/port", methods=["GET"], app=own_port),
    ]
)
