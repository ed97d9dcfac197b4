"""The socket transport's own promises: which transport a call takes, many calls on one
connection without mixing their answers, a bound on calls in flight, Unix sockets, draining,
and reconnecting after the server comes back."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator

import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import interlink as il
from interlink._envelope import Envelope, new_id
from interlink.discovery import MemoryRegistry
from interlink.transport.socket import SocketClient, SocketServer, parse_address
from interlink.transport.socket._frame import (
    PING,
    PONG,
    REQUEST,
    RESPONSE,
    FrameReader,
    encode_frame,
)
from tests.conftest import eventually, free_port

svc = il.Service("backend")
running = {"now": 0, "most": 0}


@svc.rpc
async def echo(req: dict[str, float]) -> dict[str, float]:
    running["now"] += 1
    running["most"] = max(running["most"], running["now"])
    try:
        await asyncio.sleep(req.get("sleep", 0))
    finally:
        running["now"] -= 1
    return req


@pytest.fixture(autouse=True)
def _reset() -> None:
    running.update(now=0, most=0)


@pytest.fixture
async def server() -> AsyncIterator[il.App]:
    async with il.App([svc], registry=MemoryRegistry(), port=0, socket=True) as app:
        yield app


def envelope() -> Envelope:
    return Envelope(
        id=new_id(), source="/test", type="backend.echo", specversion="1.0", correlationid="c1"
    )


async def call(client: SocketClient, address: str, body: dict[str, float]) -> object:
    outcome = await client.send(
        address, "backend", "echo", envelope(), msgspec.json.encode(body), 10.0
    )
    assert outcome.status == 200, outcome
    return msgspec.json.decode(outcome.body)


async def test_a_caller_prefers_the_socket_unless_told_http(server: il.App) -> None:
    socket_server = server.runtime.socket_server
    assert socket_server is not None
    (instance,) = server.runtime.instances
    assert instance.transports == ("http", "socket")
    assert instance.metadata["socket"] == server.socket_url
    async with il.App(
        [], registry=server.registry, serve_http=False, transports={"backend": "http"}
    ) as over_http:
        assert await over_http.call("backend.echo", {"x": 1.0}) == {"x": 1.0}
        assert socket_server.connections == 0
    async with il.App([], registry=server.registry, serve_http=False) as default:
        assert await default.call("backend.echo", {"x": 2.0}) == {"x": 2.0}
        assert socket_server.connections == 1


async def test_asking_for_the_socket_skips_instances_without_one() -> None:
    registry = MemoryRegistry()
    async with (
        il.App([svc], registry=registry, port=0),
        il.App([], registry=registry, serve_http=False, transports={"backend": "socket"}) as caller,
    ):
        with pytest.raises(il.ServiceUnavailable):
            await caller.call("backend.echo", {})


async def test_concurrent_calls_share_one_connection_and_get_their_own_answers(
    server: il.App,
) -> None:
    async with SocketClient() as client:
        bodies = [{"i": float(i), "sleep": (i % 7) / 100} for i in range(60)]
        answers = await asyncio.gather(*(call(client, server.socket_url, b) for b in bodies))
    assert answers == bodies
    assert running["most"] > 1


async def test_calls_beyond_max_streams_wait_for_a_free_stream(server: il.App) -> None:
    async with SocketClient(max_streams=2) as client:
        bodies = [{"i": float(i), "sleep": 0.05} for i in range(8)]
        answers = await asyncio.gather(*(call(client, server.socket_url, b) for b in bodies))
    assert answers == bodies
    assert running["most"] == 2


async def test_a_unix_socket_serves_calls() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "backend.sock")
        with socket.socket(socket.AF_UNIX) as gone:  # a file left by a process that is gone
            gone.bind(path)
        registry = MemoryRegistry()
        async with (
            il.App([svc], registry=registry, serve_http=False, socket=f"unix://{path}") as app,
            il.App([], registry=registry, serve_http=False) as caller,
        ):
            assert app.socket_url == f"unix://{path}"
            (instance,) = app.runtime.instances
            assert (instance.transports, instance.metadata["socket"]) == (
                ("socket",),
                app.socket_url,
            )
            assert await caller.call("backend.echo", {"u": 1.0}) == {"u": 1.0}
            with pytest.raises(il.ConfigurationError, match="cannot listen"):
                async with app.replace():
                    pass
        assert not os.path.exists(path)


async def test_a_stopping_server_finishes_calls_in_flight_and_takes_no_new_ones() -> None:
    app = il.App([svc], registry=MemoryRegistry(), port=0, socket=True, drain_timeout=5)
    async with SocketClient() as client:
        await app.__aenter__()
        address = app.socket_url
        try:
            in_flight = asyncio.create_task(call(client, address, {"sleep": 0.3}))
            await eventually(lambda: running["now"] == 1)
        finally:
            await app.__aexit__(None, None, None)
        assert await in_flight == {"sleep": 0.3}
        with pytest.raises(il.ServiceUnavailable):
            await call(client, address, {})


async def test_the_client_reconnects_when_the_server_comes_back() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    app = il.App([svc], registry=MemoryRegistry(), serve_http=False, socket=address)
    async with SocketClient() as client:
        async with app:
            assert await call(client, address, {"n": 1.0}) == {"n": 1.0}
        with pytest.raises(il.ServiceUnavailable):
            await call(client, address, {})
        async with app.replace():

            async def answers() -> bool:
                try:
                    return await call(client, address, {"n": 2.0}) == {"n": 2.0}
                except il.ServiceUnavailable:
                    return False

            await eventually(answers)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(il.ConfigurationError, match="tcp://host:port"):
        il.App([svc], socket="http://127.0.0.1:1")
    with pytest.raises(il.ConfigurationError, match="absolute"):
        parse_address("unix://relative.sock")
    with pytest.raises(il.ConfigurationError, match="address URL"):
        il.App([svc], socket=7100)  # type: ignore[arg-type]
    with pytest.raises(il.DefinitionError, match="'http', 'socket' or 'grpc'"):
        il.App([svc], transports={"backend": "ws"})


def _tls_contexts(directory: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: the server's context, and a client's that
    trusts only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "backend")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(directory, "c.pem"), os.path.join(directory, "k.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=cert_path)
    return server, client


async def test_tls_wraps_both_sides_and_a_client_that_does_not_trust_it_is_refused(
    server: il.App,
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        server_tls, client_tls = _tls_contexts(directory)
    tls_server = SocketServer(server.runtime.inbound, "tcp://127.0.0.1:0", ssl=server_tls)
    await tls_server.start()
    try:
        async with SocketClient(ssl=client_tls) as client:
            assert await call(client, tls_server.address, {"t": 1.0}) == {"t": 1.0}
        async with SocketClient(ssl=ssl.create_default_context()) as stranger:
            with pytest.raises(il.ServiceUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
                await call(stranger, tls_server.address, {})
        async with SocketClient() as plain:
            with pytest.raises(il.CallError):
                await call(plain, tls_server.address, {})
    finally:
        await tls_server.stop(1.0)


async def test_an_answer_over_max_frame_fails_that_call_only(server: il.App) -> None:
    async with SocketClient(max_frame=1000) as client:
        with pytest.raises(il.CallError, match="over the limit"):
            await call(client, server.socket_url, {"x" * 2000: 1.0})
        assert await call(client, server.socket_url, {"y": 1.0}) == {"y": 1.0}
    assert server.runtime.socket_server is not None
    assert server.runtime.socket_server.connections == 1  # the same connection went on


class _GoesQuiet(asyncio.Protocol):
    """Answers the first request of its first connection, then nothing on it; every later
    connection answers everything (what a peer behind a dead NAT entry looks like)."""

    def __init__(self, accepted: list[_GoesQuiet]) -> None:
        self.accepted = accepted

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.answered = 0
        self.reader = FrameReader(1 << 20)
        self.accepted.append(self)

    def data_received(self, data: bytes) -> None:
        for frame in self.reader.feed(data):
            quiet = self is self.accepted[0] and self.answered >= 1
            if frame.kind == REQUEST and not quiet:
                self.answered += 1
                self.transport.write(encode_frame(frame.stream, RESPONSE, b"\x00\xc8", b"1"))
            elif frame.kind == PING and not quiet:
                self.transport.write(encode_frame(frame.stream, PONG))


async def test_a_quiet_connection_that_misses_a_ping_is_replaced() -> None:
    accepted: list[_GoesQuiet] = []
    listener = await asyncio.get_running_loop().create_server(
        lambda: _GoesQuiet(accepted), "127.0.0.1", 0
    )
    address = f"tcp://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    try:
        async with SocketClient(ping_after=0.0) as client:
            assert await call(client, address, {}) == 1
            assert await call(client, address, {}) == 1  # after a PING that went unanswered
        assert len(accepted) == 2
    finally:
        listener.close()
        for connection in accepted:
            connection.transport.close()


class _NeverReads(asyncio.Protocol):
    def __init__(self, accepted: list[asyncio.Transport]) -> None:
        self.accepted = accepted

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.pause_reading()  # type: ignore[attr-defined]
        self.accepted.append(transport)  # type: ignore[arg-type]


async def test_requests_a_server_does_not_read_wait_instead_of_piling_up() -> None:
    accepted: list[asyncio.Transport] = []
    listener = await asyncio.get_running_loop().create_server(
        lambda: _NeverReads(accepted), "127.0.0.1", 0
    )
    address = f"tcp://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    body = b'"' + b"x" * (1 << 20) + b'"'
    try:
        async with SocketClient() as client:

            async def send() -> None:
                await client.send(address, "backend", "echo", envelope(), body, 0.5)

            results = await asyncio.gather(*(send() for _ in range(30)), return_exceptions=True)
            assert all(isinstance(r, il.DeadlineExceeded) for r in results), results
            (connection,) = client._peers[address]._connections
            transport = connection._transport
            assert transport is not None
            assert transport.get_write_buffer_size() <= 2 << 20  # not 30 MiB
    finally:
        listener.close()
        for transport in accepted:
            transport.close()


async def test_the_socket_is_registered_under_the_advertised_host() -> None:
    app = il.App([svc], registry=MemoryRegistry(), port=0, socket=True, advertise="localhost")
    async with app:
        (instance,) = app.runtime.instances
        port = app.socket_url.rpartition(":")[2]
        assert instance.metadata["socket"] == f"tcp://localhost:{port}"


async def test_a_mounted_app_serves_no_socket() -> None:
    app = il.App([svc], registry=MemoryRegistry(), socket=True)
    async with app.lifespan():
        assert app.runtime.socket_server is None
        with pytest.raises(RuntimeError, match="serves no socket"):
            app.socket_url  # noqa: B018
