"""The app of tests/e2e/test_up_gateway_port.py: one service and a gateway routing to it."""

from __future__ import annotations

import interlink as il
from interlink.gateway import Gateway, Route

echo = il.Service("echo")


@echo.rpc(idempotent=True)
async def ping(req: dict[str, int]) -> dict[str, int]:
    return {"pong": req.get("n", 0)}


app = il.App([echo])
gateway = Gateway([Route(path="/ping", methods=["POST"], service="echo", rewrite="/rpc/echo/ping")])
