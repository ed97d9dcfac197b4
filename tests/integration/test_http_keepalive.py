"""Pooled keep-alive connections: the client lets an idle one go before the server does."""

from __future__ import annotations

import interlink as il
from interlink.transport.http._client import CLIENT_KEEPALIVE, SERVER_KEEPALIVE


async def test_the_client_lets_an_idle_connection_go_before_the_server_does() -> None:
    async with il.App([il.Service("s")], port=0) as app:
        server = app.runtime.server
        assert server is not None
        assert server._server is not None
        assert server._server.config.timeout_keep_alive == SERVER_KEEPALIVE
        assert app.runtime.http._keepalive == CLIENT_KEEPALIVE < SERVER_KEEPALIVE
