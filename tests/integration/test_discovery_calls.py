"""Calls find instances through the registry and take turns among them."""

from __future__ import annotations

from collections import Counter

import pytest

import interlink as il
from interlink.discovery import MemoryRegistry, RoundRobin


def replica(identity: str) -> il.Service:
    svc = il.Service("inventory")

    @svc.rpc
    async def whoami(req: dict[str, str]) -> str:
        return identity

    return svc


async def test_calls_round_robin_across_registered_instances() -> None:
    registry = MemoryRegistry()
    first = il.App([replica("first")], registry=registry, port=0)
    second = il.App([replica("second")], registry=registry, port=0)
    async with first, second:
        assert len(await registry.resolve("inventory")) == 2
        caller = il.App(
            [il.Service("orders")], registry=registry, serve_http=False, load_balancer=RoundRobin
        )
        async with caller:
            answers = Counter([await caller.call("inventory.whoami", {}) for _ in range(10)])
    assert answers == {"first": 5, "second": 5}


async def test_a_stopped_instance_is_no_longer_called() -> None:
    registry = MemoryRegistry()
    first = il.App([replica("first")], registry=registry, port=0)
    async with il.App([replica("second")], registry=registry, port=0):
        async with first:
            pass
        async with il.App([il.Service("orders")], registry=registry, serve_http=False) as caller:
            answers = {await caller.call("inventory.whoami", {}) for _ in range(4)}
    assert answers == {"second"}


async def test_no_instance_is_service_unavailable() -> None:
    async with il.App([il.Service("orders")], serve_http=False) as caller:
        with pytest.raises(il.ServiceUnavailable, match="no healthy instance of 'inventory'"):
            await caller.call("inventory.whoami", {})
