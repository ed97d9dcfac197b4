"""Internal RPC in one run: interlink over its socket transport and over HTTP, against a raw
length-prefixed TCP echo on uvloop, raw aiohttp -> Starlette, and raw grpc.aio.

Four servers run in child processes (uvloop, 127.0.0.1, free ports):

* tcp: an asyncio Protocol that answers each 4-byte-length-prefixed frame with itself;
* starlette: ``benchmarks/rpc_http.py``'s bare Starlette ``POST /echo`` (uvicorn, httptools),
  which validates the body with the pydantic model and dumps it back;
* grpc: grpc.aio with one generic unary handler ``/bench/Echo`` that returns its bytes;
* interlink: ``il.App([bench], port=0, socket=True, grpc=True)``: HTTP, the socket transport
  and gRPC at once.

This process (uvloop) sends the same 325-byte payload model to each. The raw TCP and gRPC
clients send ``model.model_dump_json()`` bytes and validate the answer with
``Payload.model_validate_json`` (so every side pays for the model once per call on the client);
aiohttp does the same against Starlette, whose server also validates. interlink's two sides are
``client_app.call("bench.echo", payload, returns=Payload)`` on client-only Apps with the default
call policy, told ``transports={"bench": "socket"}``, ``{"bench": "http"}`` or
``{"bench": "grpc"}`` (interlink's gRPC client: JSON in gRPC messages, see docs/transports.md).

Each side is warmed up, then measured ``--rounds`` times (the order rotates every round); the
tables give the median req/s (best in brackets), the CPU microseconds per call of the client and
the server process (``time.process_time`` here, ``/proc`` there, 10 ms ticks), and the ratios the
issue sets targets for (reported, not asserted): socket >= 50% of raw TCP and >= 10x grpc.aio at
concurrency 1, interlink's gRPC >= 90% of raw grpc.aio.

    python benchmarks/rpc.py
    python benchmarks/rpc.py --rounds 5 --concurrency 1,16,64 --requests 3000,10000,20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import selectors
import signal
import struct
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import aiohttp
import grpc
import uvloop

import interlink as il
from interlink._envelope import Envelope, new_id
from interlink.discovery import Instance, StaticRegistry
from interlink.transport.socket import SocketClient
from rpc_http import (
    HOST,
    READY_TIMEOUT,
    Payload,
    Sample,
    ServerProcess,
    Side,
    _int_list,
    _stop_when_orphaned,
    bench_service,
    make_payload,
    measure,
    raw_sender,
)
from rpc_report import report

SIDES = (
    "tcp",
    "starlette",
    "grpc",
    "socket-client",
    "interlink-socket",
    "interlink-http",
    "interlink-grpc",
)
_LENGTH = struct.Struct("!I")

# -- servers (child processes) -----------------------------------------------------------------


class EchoServer(asyncio.Protocol):
    """Answers every length-prefixed frame with itself."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        start = 0
        while len(buffer) - start >= 4:
            (size,) = _LENGTH.unpack_from(buffer, start)
            if len(buffer) - start - 4 < size:
                break
            self.transport.write(bytes(buffer[start : start + 4 + size]))
            start += 4 + size
        del buffer[:start]


async def _until_stopped(port: int, socket_url: str = "", grpc_url: str = "") -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    _stop_when_orphaned(stopped.set)
    sys.stdout.write(f"READY {port} {socket_url} {grpc_url}\n")
    sys.stdout.flush()
    await stopped.wait()


async def serve_tcp() -> None:
    server = await asyncio.get_running_loop().create_server(EchoServer, HOST, 0, backlog=1024)
    async with server:
        await _until_stopped(server.sockets[0].getsockname()[1])


async def _grpc_echo(request: bytes, context: Any) -> bytes:
    return request


async def serve_grpc() -> None:
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(_grpc_echo)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("bench", {"Echo": handler}),)
    )
    port = server.add_insecure_port(f"{HOST}:0")
    await server.start()
    try:
        await _until_stopped(port)
    finally:
        await server.stop(None)


async def serve_interlink() -> None:
    app = il.App([bench_service()], port=0, socket=True, grpc=True)
    async with app:
        await _until_stopped(int(app.url.rpartition(":")[2]), app.socket_url, app.grpc_url)


class Child(ServerProcess):
    """One ``--serve KIND`` child of this script (rpc_http's for ``starlette``)."""

    def __init__(self, kind: str) -> None:
        script = os.path.join(os.path.dirname(__file__), "rpc_http.py")
        own = kind != "starlette"
        self.kind = kind
        self.port = 0
        self._proc = subprocess.Popen(
            [sys.executable, __file__ if own else script, "--serve", kind if own else "raw"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        """``READY port`` (interlink: ``READY http-port socket-url``) on the child's stdout."""
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            if not sel.select(READY_TIMEOUT):
                raise RuntimeError(f"{self.kind} server gave no port in {READY_TIMEOUT:.0f}s")
        line = self._proc.stdout.readline().decode().split()
        if len(line) < 2 or line[0] != "READY":
            raise RuntimeError(f"{self.kind} server failed to start (see above)")
        self.port = int(line[1])
        self.socket_url = line[2] if len(line) > 2 else ""
        self.grpc_url = line[3] if len(line) > 3 else ""


# -- clients -----------------------------------------------------------------------------------


class EchoClient(asyncio.Protocol):
    """One connection, one frame in flight at a time (what a raw length-prefixed client does)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= 4:
            (size,) = _LENGTH.unpack_from(self.buffer)
            if len(self.buffer) - 4 >= size and self.waiter is not None:
                frame = bytes(self.buffer[4 : 4 + size])
                del self.buffer[: 4 + size]
                self.waiter.set_result(frame)

    async def echo(self, body: bytes) -> bytes:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(_LENGTH.pack(len(body)) + body)
        return await self.waiter


async def tcp_side(port: int, pid: int, payload: Payload, concurrency: int) -> Side:
    loop = asyncio.get_running_loop()
    idle: list[EchoClient] = []
    for _ in range(concurrency):
        _, client = await loop.create_connection(EchoClient, HOST, port)
        idle.append(client)

    async def send() -> None:
        client = idle.pop()
        try:
            Payload.model_validate_json(await client.echo(payload.model_dump_json().encode()))
        finally:
            idle.append(client)

    return Side(send, pid)


def grpc_side(channel: grpc.aio.Channel, pid: int, payload: Payload) -> Side:
    echo = channel.unary_unary("/bench/Echo")

    async def send() -> None:
        Payload.model_validate_json(await echo(payload.model_dump_json().encode()))

    return Side(send, pid)


def socket_client_side(client: SocketClient, url: str, pid: int, payload: Payload) -> Side:
    """The transport alone: SocketClient.send with an envelope, no ctx.call path above it."""

    async def send() -> None:
        envelope = Envelope(id=new_id(), source="/bench", type="bench.echo", specversion="1.0")
        body = payload.model_dump_json().encode()
        outcome = await client.send(url, "bench", "echo", envelope, body, None)
        Payload.model_validate_json(outcome.body)

    return Side(send, pid)


def interlink_side(app: il.App, pid: int, payload: Payload) -> Side:
    async def send() -> None:
        await app.call("bench.echo", payload, returns=Payload)

    return Side(send, pid)


class _Registry(StaticRegistry):
    """``static:`` plus the socket and gRPC addresses the interlink server serves."""

    def __init__(self, port: int, socket_url: str, grpc_url: str) -> None:
        super().__init__(f"static:bench={HOST}:{port}")
        self._socket_url = socket_url
        self._grpc_url = grpc_url

    async def resolve(self, service: str) -> list[Instance]:
        found = await super().resolve(service)
        return [
            Instance(
                id=i.id,
                service=i.service,
                address=i.address,
                port=i.port,
                transports=("http", "socket", "grpc"),
                metadata={
                    "socket": self._socket_url,
                    "grpc": self._grpc_url,
                    "grpc_package": "interlink",
                },
            )
            for i in found
        ]


async def client_main(servers: dict[str, Child], opts: argparse.Namespace) -> dict[str, Any]:
    payload = make_payload()
    ilk = servers["interlink"]
    registry = _Registry(ilk.port, ilk.socket_url, ilk.grpc_url)
    apps = {
        name: il.App([], registry=registry, serve_http=False, transports={"bench": name})
        for name in ("socket", "http", "grpc")
    }
    results: dict[str, Any] = {}
    async with (
        aiohttp.ClientSession() as session,
        grpc.aio.insecure_channel(f"{HOST}:{servers['grpc'].port}") as channel,
        apps["socket"],
        apps["http"],
        apps["grpc"],
        SocketClient() as socket_client,
    ):
        for concurrency, requests in zip(opts.concurrency, opts.requests, strict=True):
            sides = {
                "tcp": await tcp_side(
                    servers["tcp"].port, servers["tcp"].pid, payload, concurrency
                ),
                "starlette": Side(
                    raw_sender(session, servers["starlette"].port, payload),
                    servers["starlette"].pid,
                ),
                "grpc": grpc_side(channel, servers["grpc"].pid, payload),
                "socket-client": socket_client_side(
                    socket_client, ilk.socket_url, ilk.pid, payload
                ),
                "interlink-socket": interlink_side(apps["socket"], ilk.pid, payload),
                "interlink-http": interlink_side(apps["http"], ilk.pid, payload),
                "interlink-grpc": interlink_side(apps["grpc"], ilk.pid, payload),
            }
            for side in sides.values():
                await measure(side, requests, concurrency, opts.warmup_seconds)
            samples: dict[str, list[Sample]] = {name: [] for name in sides}
            for round_no in range(opts.rounds):
                order = SIDES[round_no % len(SIDES) :] + SIDES[: round_no % len(SIDES)]
                for name in order:
                    sample = await measure(sides[name], requests, concurrency, opts.max_seconds)
                    samples[name].append(sample)
                    print(
                        f"  c={concurrency:<3} round {round_no + 1}  {name:<16} "
                        f"{sample.requests:>6} calls in {sample.seconds:5.2f}s  "
                        f"{sample.rps:>9,.0f}/s",
                        flush=True,
                    )
            results[str(concurrency)] = samples
    return results


# -- command line ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="interlink over socket and HTTP vs raw TCP, raw Starlette and raw grpc.aio",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--concurrency", type=_int_list, default="1,64", metavar="N[,N...]")
    parser.add_argument("--requests", type=_int_list, default="3000,20000", metavar="N[,N...]")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per side")
    parser.add_argument("--max-seconds", type=float, default=3.0, help="cap per measurement")
    parser.add_argument("--warmup-seconds", type=float, default=0.5)
    parser.add_argument("--serve", choices=["tcp", "grpc", "interlink"], help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if len(opts.requests) == 1:
        opts.requests = opts.requests * len(opts.concurrency)
    if len(opts.requests) != len(opts.concurrency) or opts.rounds < 1:
        parser.error("--requests takes one value or one per --concurrency; --rounds >= 1")
    return opts


def bench(opts: argparse.Namespace) -> int:
    servers: dict[str, Child] = {}
    try:
        for kind in ("tcp", "starlette", "grpc", "interlink"):
            servers[kind] = Child(kind)
        for server in servers.values():
            server.wait_ready()
        results = uvloop.run(client_main(servers, opts))
    finally:
        for server in servers.values():
            server.stop()
    size = len(make_payload().model_dump_json())
    print()
    print(
        f"{size}-byte JSON echo, {opts.rounds} rounds | python {platform.python_version()}, "
        f"{os.cpu_count()} cpus, grpcio {grpc.__version__}, aiohttp {aiohttp.__version__}, "
        f"interlink {il.__version__}"
    )
    report(results)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    serve = {"tcp": serve_tcp, "grpc": serve_grpc, "interlink": serve_interlink}
    if opts.serve is not None:
        uvloop.run(serve[opts.serve]())
        return 0
    try:
        return bench(opts)
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
