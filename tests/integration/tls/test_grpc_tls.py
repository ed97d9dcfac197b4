"""gRPC with mutual TLS from App(tls=...): the caller's certificate is required, and a caller
without a valid one is refused before any handler runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

import interlink as il
from interlink.discovery import MemoryRegistry
from tests.integration.tls.conftest import Certs

inventory = il.Service("inventory")
ran: list[str] = []


@inventory.rpc
async def count(req: dict[str, int]) -> dict[str, int]:
    ran.append("count")
    return req


@inventory.rpc
async def whoami(req: dict[str, int], ctx: il.Context) -> dict[str, str]:
    return {"peer": ctx.peer or ""}


@inventory.rpc(allow=["orders"])
async def reserve(req: dict[str, int]) -> dict[str, int]:
    ran.append("reserve")
    return req


@inventory.rpc(allow=["orders"])
async def ticks(req: dict[str, int]) -> AsyncIterator[int]:
    ran.append("ticks")
    for n in range(req["n"]):
        yield n


@pytest.fixture
async def server(certs: Certs) -> AsyncIterator[tuple[il.App, MemoryRegistry]]:
    ran.clear()
    registry = MemoryRegistry()
    app = il.App(
        [inventory], registry=registry, serve_http=False, grpc=True, tls=certs.tls("inventory")
    )
    async with app:
        yield app, registry


async def test_a_caller_with_a_certificate_of_the_ca_is_served(
    server: tuple[il.App, MemoryRegistry], certs: Certs
) -> None:
    _, registry = server
    async with il.App([], registry=registry, port=0, tls=certs.tls("orders")) as caller:
        assert await caller.call("inventory.count", {"n": 1}, timeout=10) == {"n": 1}
    assert ran == ["count"]


async def test_a_caller_without_a_valid_certificate_is_refused(
    server: tuple[il.App, MemoryRegistry], certs: Certs
) -> None:
    app, registry = server
    async with il.App([], registry=registry, port=0) as plain:
        with pytest.raises(il.ServiceUnavailable):
            await plain.call("inventory.count", {"n": 1}, timeout=5)
    foreign = certs.foreign("orders")
    credentials = foreign.grpc_channel_credentials()
    for channel in (
        grpc.aio.insecure_channel(app.grpc_url),
        grpc.aio.secure_channel(app.grpc_url, credentials),
    ):
        async with channel:
            call = channel.unary_unary("/interlink.inventory/count")
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call(b'{"n": 1}', metadata=(("interlink-codec", "json"),), timeout=5)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert ran == []


async def test_the_callers_certificate_names_it_and_allow_is_checked(
    server: tuple[il.App, MemoryRegistry], certs: Certs
) -> None:
    _, registry = server
    grpc_only = {"inventory": "grpc"}
    async with il.App(
        [], registry=registry, port=0, tls=certs.tls("orders"), transports=grpc_only
    ) as orders:
        assert await orders.call("inventory.whoami", {}, timeout=10) == {"peer": "orders"}
        assert await orders.call("inventory.reserve", {"n": 1}, timeout=10) == {"n": 1}
        async with orders.stream("inventory.ticks", {"n": 2}, returns=int) as items:
            assert [n async for n in items] == [0, 1]
    async with il.App(
        [], registry=registry, port=0, tls=certs.tls("intruder"), transports=grpc_only
    ) as intruder:
        assert await intruder.call("inventory.whoami", {}, timeout=10) == {"peer": "intruder"}
        with pytest.raises(il.PermissionDenied, match="'intruder'"):
            await intruder.call("inventory.reserve", {"n": 1}, timeout=10)
        with pytest.raises(il.PermissionDenied):
            async with intruder.stream("inventory.ticks", {"n": 2}, returns=int) as items:
                [n async for n in items]
    assert ran == ["reserve", "ticks"]
