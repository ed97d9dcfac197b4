"""The App's HTTP server turns Nagle off on every accepted connection: without TCP_NODELAY a
keep-alive answer waits for the client's delayed ACK (about 40 ms per call on Linux)."""

from __future__ import annotations

import socket

import aiohttp

import interlink as il

svc = il.Service("svc")


@svc.rpc
async def echo(req: dict[str, int]) -> dict[str, int]:
    return req


async def test_accepted_connections_have_tcp_nodelay() -> None:
    async with il.App([svc], port=0) as app, aiohttp.ClientSession() as session:
        async with session.post(f"{app.url}/rpc/svc/echo", json={"a": 1}) as resp:
            assert await resp.json() == {"a": 1}
        server = app.runtime.server
        assert server is not None
        connections = server._server.server_state.connections  # type: ignore[union-attr]
        assert connections
        for protocol in connections:
            sock = protocol.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
