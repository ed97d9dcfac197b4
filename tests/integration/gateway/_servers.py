"""Real servers for the gateway tests: uvicorn on free loopback ports, in this process."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from interlink.discovery import Instance, MemoryRegistry
from tests.conftest import free_port


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, *, lifespan: str = "off") -> AsyncIterator[int]:
    """``app`` on uvicorn at 127.0.0.1:<port>, until the block ends."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan=lifespan,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            task.cancel()
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


def echo_app(name: str, version: str = "") -> Starlette:
    """A service that says who it is and what it was sent."""
    state: dict[str, Any] = {"fail": 0, "calls": 0, "bodies": []}

    async def echo(request: Request) -> Response:
        state["calls"] += 1
        body = await request.body()
        state["bodies"].append(body)
        if state["fail"] > 0:
            state["fail"] -= 1
            return JSONResponse({"failed": name}, status_code=503)
        return JSONResponse(
            {
                "instance": name,
                "version": version,
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": dict(request.headers.items()),
                "body": len(body),
            },
            headers={"x-upstream": name, "keep-alive": "timeout=5", "connection": "keep-alive"},
        )

    async def big(request: Request) -> Response:
        size = int(request.query_params.get("size", "1000000"))

        async def pieces() -> AsyncIterator[bytes]:
            for _ in range(size // 65536):
                yield b"x" * 65536
            yield b"x" * (size % 65536)

        return StreamingResponse(pieces(), media_type="application/octet-stream")

    async def count(request: Request) -> Response:
        total = 0
        async for piece in request.stream():
            total += len(piece)
        return JSONResponse({"received": total, "instance": name})

    async def slow(request: Request) -> Response:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await state["release"].wait()
        return JSONResponse({"instance": name})

    async def drip(request: Request) -> Response:
        async def pieces() -> AsyncIterator[bytes]:
            yield b"first;"
            async with asyncio.timeout(5):
                await state["release"].wait()
            yield b"second"

        return StreamingResponse(pieces(), media_type="text/plain")

    async def upload(request: Request) -> Response:
        state["received"] = 0
        async for piece in request.stream():
            state["received"] += len(piece)
        return JSONResponse({"received": state["received"]})

    state["release"] = asyncio.Event()
    app = Starlette(
        routes=[
            Route("/slow", slow),
            Route("/drip", drip),
            Route("/upload", upload, methods=["POST"]),
            Route("/big", big),
            Route("/count", count, methods=["POST", "PUT"]),
            Route("/{rest:path}", echo, methods=["GET", "POST", "PUT", "DELETE", "HEAD"]),
        ]
    )
    app.state.calls = state
    return app


async def register(
    registry: MemoryRegistry, service: str, name: str, port: int, version: str = ""
) -> Instance:
    instance = Instance(id=name, service=service, address="127.0.0.1", port=port, version=version)
    await registry.register(instance, ttl=60)
    return instance


@contextlib.asynccontextmanager
async def gateway_at(
    routes: list[Any], registry: MemoryRegistry, **options: Any
) -> AsyncIterator[str]:
    """A Gateway of ``routes`` on uvicorn (its lifespan opens and closes it); its base URL."""
    from interlink.gateway import Gateway

    async with serve(Gateway(routes, registry=registry, **options), lifespan="on") as port:
        yield f"http://127.0.0.1:{port}"
