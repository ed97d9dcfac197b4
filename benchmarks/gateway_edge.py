"""Per-request cost of the gateway's edge policies, without sockets.

Each row calls an ASGI app wrapped by one policy with an in-memory request and an upstream
that answers 200 at once; the bare upstream's time is subtracted, so the figure is what the
policy itself adds, in microseconds per request (the best of several repeats).

    python benchmarks/gateway_edge.py [--calls N] [--repeats R]

The JWKS is served by a local uvicorn on a free port (the key fetch is not in the timed loop).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.types import ASGIApp, Message, Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from interlink.gateway import ApiKeys, Cache, Jwks, JwtAuth, RateLimit


async def upstream(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"cache-control", b"max-age=600"), (b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Message) -> None:
    return None


def scope_with(headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": "/orders/1",
        "query_string": b"",
        "client": ("127.0.0.1", 50000),
        "headers": [(b"host", b"gateway"), (b"accept", b"*/*"), *headers],
    }


async def per_request(app: ASGIApp, headers: list[tuple[bytes, bytes]], calls: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for _ in range(calls):
        await app(scope_with(headers), receive, send)
    return (time.perf_counter() - started) / calls * 1e6


class KeyServer:
    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.body = json.dumps({"keys": keys}).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": self.body})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def main(calls: int, repeats: int) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = [
        {**jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "ec"},
        {**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "rsa"},
    ]
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(KeyServer(jwks), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no started event
        await asyncio.sleep(0.01)
    claims = {"sub": "ada", "iss": "bench", "aud": "shop", "exp": int(time.time()) + 3600}
    es256 = jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": "ec"})
    rs256 = jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": "rsa"})
    url = f"http://127.0.0.1:{port}/jwks"
    cached = JwtAuth(
        jwks=Jwks(url), issuer="bench", audience="shop", forward_claims={"aud": "x-aud"}
    )
    uncached = JwtAuth(jwks=Jwks(url), issuer="bench", audience="shop", token_cache=0)
    cache = Cache()
    rows: list[tuple[str, ASGIApp, list[tuple[bytes, bytes]]]] = [
        (
            "JwtAuth, token seen before (verdict cache)",
            cached.wrap(upstream),
            [(b"authorization", b"Bearer " + es256.encode())],
        ),
        (
            "JwtAuth, ES256 verified every time",
            uncached.wrap(upstream),
            [(b"authorization", b"Bearer " + es256.encode())],
        ),
        (
            "JwtAuth, RS256 verified every time",
            uncached.wrap(upstream),
            [(b"authorization", b"Bearer " + rs256.encode())],
        ),
        ("ApiKeys", ApiKeys({"k": "ada"}).wrap(upstream), [(b"x-api-key", b"k")]),
        ("RateLimit local sliding window, by ip", RateLimit(10**9, 60).wrap(upstream), []),
        (
            "RateLimit local token bucket, by ip",
            RateLimit(10**9, 60, algorithm="token_bucket").wrap(upstream),
            [],
        ),
        ("Cache hit", cache.wrap(upstream), []),
    ]
    async with cached, uncached:
        for _, app, headers in rows:
            await per_request(app, headers, 200)  # warm up: keys fetched, caches filled
        base = min([await per_request(upstream, [], calls) for _ in range(repeats)])
        print(f"bare upstream: {base:.2f} µs/request ({calls} calls, best of {repeats})")
        for name, app, headers in rows:
            best = min([await per_request(app, headers, calls) for _ in range(repeats)])
            print(f"{name:45s} +{best - base:7.2f} µs/request")
    server.should_exit = True
    await serving


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.repeats))
