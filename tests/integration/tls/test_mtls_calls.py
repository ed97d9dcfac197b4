"""Mutual TLS on HTTP and the socket transport: the caller's identity reaches ``ctx.peer``, and
``allow=`` (or ``Tls(peers=...)``) refuses other identities with 403 before the handler runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

import interlink as il
from interlink.discovery import MemoryRegistry

from ._services import inventory, orders, ran
from .conftest import Certs

TRANSPORTS = ["http", "socket"]


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


def caller(registry: MemoryRegistry, transport: str, tls: il.Tls | None) -> il.App:
    return il.App(
        [orders], registry=registry, serve_http=False, transports={"inventory": transport}, tls=tls
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_callers_certificate_names_it_on_the_context(
    server: il.App, registry: MemoryRegistry, certs: Certs, transport: str
) -> None:
    (instance,) = server.runtime.instances
    assert instance.metadata["tls"] == "mutual"
    assert instance.url.startswith("https://127.0.0.1:")
    async with caller(registry, transport, certs.tls("orders")) as client:
        assert await client.call("inventory.whoami", {}) == {"peer": "orders"}
        assert await client.call("inventory.reserve", {"qty": 2}) == {"qty": 2}
        assert await client.call("orders.place", {"qty": 3}) == {"qty": 3}
    assert ran["guarded"] == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_allow_refuses_another_service_with_403_before_the_handler(
    server: il.App, registry: MemoryRegistry, certs: Certs, transport: str
) -> None:
    async with caller(registry, transport, certs.tls("intruder")) as client:
        assert await client.call("inventory.whoami", {}) == {"peer": "intruder"}
        with pytest.raises(il.PermissionDenied, match="'intruder'") as caught:
            await client.call("inventory.reserve", {"qty": 2})
        # refused before validation too: this body does not fit the handler's model
        with pytest.raises(il.PermissionDenied):
            await client.call("inventory.reserve", ["not", "a", "dict"])
    assert caught.value.non_retryable
    assert caught.value.not_processed
    assert ran["guarded"] == 0


async def test_allow_guards_a_route_over_https(server: il.App, certs: Certs) -> None:
    url = f"{server.url}/stock/sku-1"
    assert url.startswith("https://127.0.0.1:")
    async with aiohttp.ClientSession() as session:
        good = certs.tls("orders").client_context()
        async with session.get(url, ssl=good) as response:
            assert response.status == 200
            assert await response.json() == {"sku": "sku-1", "peer": "orders"}
        bad = certs.tls("intruder").client_context()
        async with session.get(url, ssl=bad) as response:
            assert response.status == 403
            assert (await response.json())["error"]["type"] == "PermissionDenied"
    assert ran["guarded"] == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tls_peers_is_the_default_allow_list(
    registry: MemoryRegistry, certs: Certs, transport: str
) -> None:
    tls = certs.tls("inventory", peers=["orders"])
    async with il.App([inventory], registry=registry, port=0, socket=True, tls=tls):
        async with caller(registry, transport, certs.tls("orders")) as client:
            assert await client.call("inventory.whoami", {}) == {"peer": "orders"}
        async with caller(registry, transport, certs.tls("intruder")) as client:
            with pytest.raises(il.PermissionDenied):
                await client.call("inventory.whoami", {})


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_without_tls_a_remote_caller_has_no_identity(
    registry: MemoryRegistry, transport: str
) -> None:
    server = il.App([inventory], registry=registry, port=0, socket=True)
    async with server, caller(registry, transport, None) as client:
        assert await client.call("inventory.whoami", {}) == {"peer": None}
        with pytest.raises(il.PermissionDenied, match="without a service identity"):
            await client.call("inventory.reserve", {"qty": 1})
    assert ran["guarded"] == 0


async def test_in_process_the_peer_is_the_calling_service() -> None:
    async with il.App([inventory, orders], serve_http=False) as app:
        assert await app.call("orders.place", {"qty": 1}) == {"qty": 1}
        assert await app.context("orders").call("inventory.whoami", {}) == {"peer": "orders"}
        with pytest.raises(il.PermissionDenied, match="'client'"):
            await app.call("inventory.reserve", {"qty": 1})
    assert ran["guarded"] == 1


def test_allow_takes_a_list_of_names() -> None:
    svc = il.Service("s")
    with pytest.raises(il.DefinitionError, match="allow="):

        @svc.rpc(allow="orders")
        async def one(req: dict[str, int]) -> None: ...

    @svc.rpc(allow=(name for name in ["a", "b"]))
    async def two(req: dict[str, int]) -> None: ...

    assert two.allow == frozenset({"a", "b"})


async def test_unreadable_or_mismatched_files_fail_the_start(certs: Certs, tmp_path: Path) -> None:
    missing = il.Tls(ca=str(tmp_path / "ca.pem"), cert="x.pem", key="x.key")
    with pytest.raises(il.ConfigurationError, match="TLS files"):
        async with il.App([inventory], port=0, tls=missing):
            pass
    d = certs.directory
    mismatched = il.Tls(
        ca=str(d / "ca.pem"), cert=str(d / "orders.pem"), key=str(d / "inventory.key")
    )
    with pytest.raises(il.ConfigurationError, match="TLS files"):
        async with il.App([inventory], port=0, tls=mismatched):
            pass
