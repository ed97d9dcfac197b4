"""The gateway against the service it fronts and against an obvious proxy, with wrk.

    python benchmarks/gateway.py                       # 3 rounds of 8 s per side, about 3 min
    python benchmarks/gateway.py --duration 5 --rounds 1 --connections 64

Sides, each a separate uvicorn process (uvloop, httptools, access log off) on 127.0.0.1:

- direct:  wrk -> the Starlette service (GET /items/{id}, a small JSON answer)
- gateway: wrk -> interlink Gateway (Route with a path template and rewrite, discovery through
           ``static:``, round robin) -> the service
- edge:    the same plus JwtAuth (ES256, key set from a local JWKS URL) and a local RateLimit
           keyed by the token's subject, with a limit high enough never to refuse
- naive:   wrk -> a Starlette app that forwards with one shared httpx.AsyncClient (its keep-alive
           pool raised to 256; sniffio's failed import made cheap where it is missing), the
           obvious way -> the service
- aiohttp: the same obvious proxy with one aiohttp ClientSession

It prints req/s (median of the rounds), p50/p99 latency and CPU microseconds per request of the
proxy process and of the service (from /proc: steadier than req/s on a shared machine) per
side, and the ratios the targets name: gateway+edge at >= 60% of direct, and >= 2x the naive
(httpx) proxy. It reports; it does not assert. Child processes are stopped by pid at the end,
on Ctrl-C and on error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ISSUER, AUDIENCE = "bench-issuer", "bench"


# -- the servers (run as children of this script) ----------------------------------------------


def _keys() -> tuple[Any, dict[str, Any]]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    public.update(kid="k1", alg="ES256", use="sig")
    return private, {"keys": [public]}


def service_app(jwks: dict[str, Any]) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["id"], "name": "widget", "cents": 1299})

    async def keys(request: Request) -> JSONResponse:
        return JSONResponse(jwks)

    return Starlette(routes=[Route("/items/{id}", item), Route("/jwks.json", keys)])


def gateway_app(upstream: int, edge: bool) -> Any:
    from interlink.gateway import Gateway, JwtAuth, RateLimit, Route

    middleware: list[Any] = []
    if edge:
        auth = JwtAuth(
            jwks_url=f"http://127.0.0.1:{upstream}/jwks.json",
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=["ES256"],
        )
        middleware = [auth, RateLimit(10_000_000, per=1.0, key="subject")]
    route = Route(
        path="/api/items/{id}", service="svc", rewrite="/items/{id}", middleware=middleware
    )
    return Gateway([route], registry=f"static:svc=127.0.0.1:{upstream}")


def naive_app(upstream: int) -> Any:
    """The obvious proxy the issue names: one shared httpx.AsyncClient, the answer read whole
    and returned. Its keep-alive pool is raised to the connection count wrk uses (httpx keeps
    only 20 idle connections by default, and would otherwise reconnect for most requests)."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    try:
        import sniffio  # noqa: F401
    except ImportError:
        # httpcore imports sniffio on every request; where it is missing, each failed import
        # searches sys.path again (a fifth of the proxy's CPU). A None entry fails it at once,
        # as cheaply as the import succeeds where sniffio is installed.
        sys.modules["sniffio"] = None  # type: ignore[assignment]
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{upstream}", limits=limits)

    async def forward(request: Request) -> Response:
        answer = await client.get(f"/items/{request.path_params['id']}")
        return Response(answer.content, answer.status_code, media_type="application/json")

    return Starlette(routes=[Route("/api/items/{id}", forward)])


def aiohttp_app(upstream: int) -> Any:
    """The same obvious proxy with aiohttp's ClientSession (a stronger baseline than httpx)."""
    import aiohttp
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    session: list[aiohttp.ClientSession] = []

    async def forward(request: Request) -> Response:
        if not session:
            session.append(aiohttp.ClientSession(f"http://127.0.0.1:{upstream}"))
        async with session[0].get(f"/items/{request.path_params['id']}") as answer:
            body = await answer.read()
            return Response(body, answer.status, media_type="application/json")

    return Starlette(routes=[Route("/api/items/{id}", forward)])


def serve(kind: str, port: int, upstream: int, jwks_file: str) -> None:
    import uvicorn

    if kind == "service":
        with open(jwks_file) as file:
            app = service_app(json.load(file))
    elif kind == "naive":
        app = naive_app(upstream)
    elif kind == "aiohttp":
        app = aiohttp_app(upstream)
    else:
        app = gateway_app(upstream, edge=kind == "edge")
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on" if kind in ("gateway", "edge") else "off",
        access_log=False,
        log_level="warning",
        proxy_headers=False,
    )


# -- the driver ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def child(kind: str, port: int, upstream: int, jwks_file: str) -> Iterator[int]:
    argv = [sys.executable, __file__, "--serve", kind, str(port), str(upstream), jwks_file]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.join(ROOT, "src"), ROOT])}
    process = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} did not start") from None
                time.sleep(0.05)
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def token(private: Any) -> str:
    import jwt

    now = int(time.time())
    claims = {"sub": "bench-user", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}
    return jwt.encode(claims, private, algorithm="ES256", headers={"kid": "k1"})


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (from /proc)."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: float, connections: int, headers: list[str]) -> dict[str, float]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    for header in headers:
        argv[1:1] = ["-H", header]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--serve", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        kind, port, upstream, jwks_file = args.serve
        serve(kind, int(port), int(upstream), jwks_file)
        return
    private, jwks = _keys()
    jwks_file = os.path.join(ROOT, ".gateway-bench-jwks.json")
    with open(jwks_file, "w") as file:
        json.dump(jwks, file)
    bearer = f"Authorization: Bearer {token(private)}"
    kinds = ("service", "gateway", "edge", "naive", "aiohttp")
    ports = {k: free_port() for k in kinds}
    up = ports["service"]
    sides = {
        "direct": (f"http://127.0.0.1:{up}/items/42", []),
        "gateway": (f"http://127.0.0.1:{ports['gateway']}/api/items/42", []),
        "edge": (f"http://127.0.0.1:{ports['edge']}/api/items/42", [bearer]),
        "naive": (f"http://127.0.0.1:{ports['naive']}/api/items/42", []),
        "aiohttp": (f"http://127.0.0.1:{ports['aiohttp']}/api/items/42", []),
    }
    results: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    try:
        with contextlib.ExitStack() as stack:
            pids = {
                kind: stack.enter_context(child(kind, ports[kind], up, jwks_file)) for kind in kinds
            }
            for url, headers in sides.values():  # warm up: pools, JWKS, token cache
                wrk(url, 2, args.connections, headers)
            for n in range(args.rounds):
                order = list(sides) if n % 2 == 0 else list(reversed(sides))
                for side in order:
                    url, headers = sides[side]
                    watched = [pids["service"]] + ([] if side == "direct" else [pids[side]])
                    before = [cpu_seconds(pid) for pid in watched]
                    run = wrk(url, args.duration, args.connections, headers)
                    used = [cpu_seconds(pid) - b for pid, b in zip(watched, before, strict=True)]
                    requests = run["rps"] * args.duration
                    run["service_us"] = used[0] / requests * 1e6
                    run["proxy_us"] = used[1] / requests * 1e6 if len(used) > 1 else 0.0
                    results[side].append(run)
    finally:
        os.unlink(jwks_file)
    report(results, args)


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    print(f"\nwrk -t1 -c{args.connections} -d{args.duration}s, {args.rounds} rounds (median)\n")
    print(
        f"{'side':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}"
        f"{'proxy µs':>10}{'svc µs':>10}   rounds req/s"
    )
    median: dict[str, float] = {}
    for side, runs in results.items():
        median[side] = statistics.median(r["rps"] for r in runs)
        p50 = statistics.median(r["p50"] for r in runs)
        p99 = statistics.median(r["p99"] for r in runs)
        errors = sum(r["errors"] for r in runs)
        each = " ".join(f"{r['rps']:.0f}" for r in runs)
        proxy = statistics.median(r["proxy_us"] for r in runs)
        service = statistics.median(r["service_us"] for r in runs)
        print(
            f"{side:<10}{median[side]:>10.0f}{p50:>10.2f}{p99:>10.2f}{errors:>10.0f}"
            f"{proxy:>10.0f}{service:>10.0f}   {each}"
        )
    direct, naive, other = median["direct"], median["naive"], median["aiohttp"]
    print()
    for side in ("gateway", "edge"):
        print(
            f"{side:<8} {median[side] / direct:6.1%} of direct (target >= 60%), "
            f"{median[side] / naive:4.2f}x the naive httpx proxy (target >= 2x), "
            f"{median[side] / other:4.2f}x the aiohttp one"
        )
    print(f"naive    {naive / direct:6.1%} of direct (httpx)")
    print(f"aiohttp  {other / direct:6.1%} of direct")


if __name__ == "__main__":
    main()
