"""What mutual TLS refuses, on the HTTP port and the socket port: a client without a
certificate, with one from another CA, with an expired one, or speaking plaintext; a caller
refuses a server whose certificate another CA signed. The server goes on serving the others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import interlink as il
from interlink.cli._certs import issue_cert
from interlink.discovery import MemoryRegistry
from interlink.transport.socket._frame import REQUEST, encode_frame

from ._services import inventory, orders, ran
from .conftest import Certs

TRANSPORTS = ["http", "socket"]
HTTP_REQUEST = (
    b"POST /rpc/inventory/whoami HTTP/1.1\r\nhost: 127.0.0.1\r\n"
    b"content-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
)
SOCKET_REQUEST = encode_frame(1, REQUEST, b"\x95\xa9inventory\xa6whoami\xa2i1\xa2/t\xa2t1", b"{}")


@pytest.fixture(autouse=True)
def _reset() -> None:
    ran["guarded"] = 0


@pytest.fixture
def registry() -> MemoryRegistry:
    return MemoryRegistry()


@pytest.fixture
async def server(certs: Certs, registry: MemoryRegistry) -> AsyncIterator[il.App]:
    app = il.App([inventory], registry=registry, port=0, socket=True, tls=certs.tls("inventory"))
    async with app:
        yield app


def ports(app: il.App) -> dict[str, tuple[int, bytes]]:
    assert app.runtime.server is not None
    socket_port = int(app.socket_url.rsplit(":", 1)[1])
    return {
        "http": (app.runtime.server.port, HTTP_REQUEST),
        "socket": (socket_port, SOCKET_REQUEST),
    }


async def answer(port: int, context: ssl.SSLContext | None, request: bytes) -> bytes:
    """What the server sends back to ``request`` on a fresh connection: b"" when it closes
    the connection (or fails the handshake) without answering."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    except (ssl.SSLError, ConnectionError):
        return b""
    try:
        writer.write(request)
        async with asyncio.timeout(10):
            return await reader.read(1 << 16)
    except (ssl.SSLError, ConnectionError):
        return b""
    finally:
        writer.close()
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()


def caller(registry: MemoryRegistry, transport: str, tls: il.Tls) -> il.App:
    return il.App(
        [orders], registry=registry, serve_http=False, transports={"inventory": transport}, tls=tls
    )


async def still_serves(registry: MemoryRegistry, certs: Certs, transport: str) -> None:
    async with caller(registry, transport, certs.tls("orders")) as client:
        assert await client.call("inventory.whoami", {}) == {"peer": "orders"}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_client_without_a_certificate_gets_no_answer(
    server: il.App,
    registry: MemoryRegistry,
    certs: Certs,
    transport: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, request = ports(server)[transport]
    no_cert = ssl.create_default_context(cafile=str(certs.directory / "ca.pem"))
    assert await answer(port, no_cert, request) == b""
    # the same bytes from a client with a certificate are answered
    assert await answer(port, certs.tls("orders").client_context(), request) != b""
    await still_serves(registry, certs, transport)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_plaintext_to_a_tls_port_gets_no_answer(
    server: il.App,
    registry: MemoryRegistry,
    certs: Certs,
    transport: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port, request = ports(server)[transport]
    assert await answer(port, None, request) == b""
    await still_serves(registry, certs, transport)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_tls_caller_does_not_call_a_plaintext_server(
    registry: MemoryRegistry, certs: Certs, transport: str
) -> None:
    plain = il.App([inventory], registry=registry, port=0, socket=True)
    async with plain, caller(registry, transport, certs.tls("orders")) as client:
        with pytest.raises(il.ServiceUnavailable):
            await client.call("inventory.whoami", {})


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_caller_refuses_a_server_certificate_that_does_not_name_the_host(
    registry: MemoryRegistry, certs: Certs, transport: str, tmp_path: Path
) -> None:
    # 127.0.0.2 is loopback too, but not among the certificate's names
    other_host = il.App(
        [inventory],
        registry=registry,
        host="127.0.0.2",
        port=0,
        socket=True,
        tls=certs.tls("inventory"),
    )
    async with other_host, caller(registry, transport, certs.tls("orders")) as client:
        with pytest.raises(il.ServiceUnavailable):
            await client.call("inventory.whoami", {})
    # the same server with 127.0.0.2 among its names is trusted
    for name in ("ca.pem", "ca.key"):
        (tmp_path / name).write_bytes((certs.directory / name).read_bytes())
    issue_cert(tmp_path, "inventory", hosts=["127.0.0.2"])
    named = other_host.replace(
        tls=il.Tls(
            ca=str(tmp_path / "ca.pem"),
            cert=str(tmp_path / "inventory.pem"),
            key=str(tmp_path / "inventory.key"),
        )
    )
    async with named, caller(registry, transport, certs.tls("orders")) as client:
        assert await client.call("inventory.whoami", {}) == {"peer": "orders"}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("bad", ["foreign", "expired"])
async def test_a_certificate_from_another_ca_or_expired_is_refused(
    server: il.App,
    registry: MemoryRegistry,
    certs: Certs,
    transport: str,
    bad: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tls = certs.foreign("orders") if bad == "foreign" else certs.expired("orders")
    port, request = ports(server)[transport]
    assert await answer(port, tls.client_context(), request) == b""
    async with caller(registry, transport, tls) as client:
        with pytest.raises(il.CallError):
            await client.call("inventory.reserve", {"qty": 1})
    assert ran["guarded"] == 0
    await still_serves(registry, certs, transport)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_caller_refuses_a_server_whose_certificate_another_ca_signed(
    registry: MemoryRegistry, certs: Certs, transport: str
) -> None:
    impostor = il.App(
        [inventory], registry=registry, port=0, socket=True, tls=certs.foreign("inventory")
    )
    async with impostor, caller(registry, transport, certs.tls("orders")) as client:
        with pytest.raises(il.ServiceUnavailable):
            await client.call("inventory.reserve", {"qty": 1})
    assert ran["guarded"] == 0
