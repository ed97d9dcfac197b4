"""Servers for the edge-policy tests: uvicorn on a free loopback port, an upstream that echoes
what it received, and a JSON Web Key Set server the test can change or break."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.types import ASGIApp, Receive, Scope, Send

from interlink.gateway._identity import identity_of


@contextlib.asynccontextmanager
async def serving(asgi: ASGIApp) -> AsyncIterator[str]:
    """A real uvicorn server on a free loopback port; its base URL; stopped at the end."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(asgi, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
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


async def respond(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), *headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class Echo:
    """The upstream: answers with the headers it got and the identity in its scope."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        identity = identity_of(scope)
        headers: dict[str, list[str]] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode(), []).append(value.decode())
        body = {
            "headers": headers,
            "subject": identity.subject if identity else None,
            "method": identity.method if identity else None,
        }
        await respond(send, 200, body, [])


class JwksServer:
    """Serves ``keys`` as a JWK set at ``/jwks`` (or 500 while ``broken``)."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.broken = False
        self.max_age: int | None = None
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.requests += 1
        if self.broken:
            await respond(send, 500, {"error": "down"}, [])
            return
        headers = (
            [] if self.max_age is None else [(b"cache-control", f"max-age={self.max_age}".encode())]
        )
        await respond(send, 200, {"keys": self.keys}, headers)


class Signer:
    """One EC P-256 signing key with a kid; issues tokens and publishes its public JWK."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.jwk = {
            **jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True),
            "kid": kid,
            "use": "sig",
            "alg": "ES256",
        }

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "sub": "ada",
            "iss": "https://issuer.test",
            "aud": "shop",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, self.private, algorithm="ES256", headers={"kid": self.kid})
