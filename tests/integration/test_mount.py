"""``app.asgi()`` mounted in an existing FastAPI application, and ``app.lifespan`` as its
lifespan: one server, the host's, serves both, and the App runs exactly while it does."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import uvicorn

import interlink as il

pytest.importorskip("fastapi", reason="pip install fastapi (in the dev extra)")


@contextlib.asynccontextmanager
async def uvicorn_serving(asgi: Any) -> AsyncIterator[str]:
    """A real uvicorn server (lifespan on) on a free loopback port, stopped at the end."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(asgi, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn has no started event
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def fetch(
    session: aiohttp.ClientSession, method: str, url: str, **kw: Any
) -> tuple[int, Any]:
    async with session.request(method, url, **kw) as resp:
        return resp.status, await resp.json()


async def test_the_shop_mounted_in_fastapi_shares_its_server_and_lifespan() -> None:
    from examples.mount import api
    from examples.shop import app as shop

    async with uvicorn_serving(api) as base, aiohttp.ClientSession() as session:
        assert shop.runtime.server is None  # no port of its own
        assert await fetch(session, "GET", f"{base}/hello") == (200, {"hello": "world"})
        status, ready = await fetch(session, "GET", f"{base}/svc/health/ready")
        assert (status, ready["status"]) == (200, "ready")
        order = {"customer": "ada", "sku": "pear", "qty": 1}
        status, accepted = await fetch(session, "POST", f"{base}/svc/rpc/orders/place", json=order)
        assert (status, accepted["total_cents"]) == (200, 95)
        status, stock = await fetch(session, "GET", f"{base}/svc/inventory/pear")
        assert (status, stock["sku"]) == (200, "pear")
        status, error = await fetch(session, "GET", f"{base}/svc/rpc/orders/place")
        assert (status, error["error"]["type"]) == (405, "MethodNotAllowed")
        status, error = await fetch(session, "GET", f"{base}/svc/nowhere")
        assert (status, error["error"]["type"]) == (404, "NotFound")
        # The host's address is not known to be loopback: no admin API unless admin=True.
        status, _ = await fetch(session, "GET", f"{base}/svc/_interlink/services")
        assert status == 404
        status, document = await fetch(session, "GET", f"{base}/svc/openapi.json")
        assert document["servers"] == [{"url": "/svc"}]
        assert "/rpc/orders/place" in document["paths"]
        assert shop.runtime.instances == []  # its address is the host's: not registered
    with pytest.raises(RuntimeError, match="not running"):
        shop.runtime  # noqa: B018 - stopped with the host


async def test_a_mounted_app_that_is_not_running_answers_503() -> None:
    app = il.App([il.Service("idle")])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/health/live", "headers": []}
    await app.asgi()(scope, receive, send)
    assert sent[0]["status"] == 503
    assert b"lifespan=app.lifespan" in sent[1]["body"]


async def test_asgi_served_on_its_own_runs_the_app_through_the_lifespan_protocol() -> None:
    svc = il.Service("solo")

    @svc.rpc
    async def hello(req: dict[str, str]) -> dict[str, str]:
        return {"hello": req.get("name", "world")}

    app = il.App([svc])
    async with uvicorn_serving(app.asgi()) as base, aiohttp.ClientSession() as session:
        status, body = await fetch(session, "POST", f"{base}/rpc/solo/hello", json={"name": "ada"})
        assert (status, body) == (200, {"hello": "ada"})
    with pytest.raises(RuntimeError, match="not running"):
        app.runtime  # noqa: B018


async def test_the_lifespan_can_be_entered_inside_the_hosts_own() -> None:
    app = il.App([il.Service("nested")], admin=True)

    @contextlib.asynccontextmanager
    async def lifespan(host: object) -> AsyncIterator[None]:
        async with app.lifespan(host):
            yield

    async with lifespan(None):
        assert app.runtime.http_app is not None
        assert app.runtime.server is None
