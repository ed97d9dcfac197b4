from __future__ import annotations

import asyncio

import pytest

from interlink import ConfigurationError
from interlink.discovery import Instance, Registry, RoundRobin, StaticRegistry, registry_from_url


def inst(n: int, service: str = "inventory") -> Instance:
    return Instance(id=f"{service}-{n}", service=service, address="127.0.0.1", port=9000 + n)


async def test_register_resolve_deregister(registry: Registry) -> None:
    await registry.register(inst(1))
    await registry.register(inst(2))
    await registry.register(inst(1, "payment"))
    assert {i.id for i in await registry.resolve("inventory")} == {"inventory-1", "inventory-2"}
    assert await registry.services() == ["inventory", "payment"]
    await registry.deregister(inst(1))
    assert [i.id for i in await registry.resolve("inventory")] == ["inventory-2"]
    assert await registry.resolve("nobody") == []


async def test_watch_reports_up_and_down(registry: Registry) -> None:
    watch = registry.watch("inventory")
    first = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)
    await registry.register(inst(1))
    up = await asyncio.wait_for(first, 2)
    await registry.deregister(inst(1))
    down = await asyncio.wait_for(anext(watch), 2)
    assert (up.kind, up.instance) == ("up", inst(1))
    assert (down.kind, down.instance) == ("down", inst(1))
    await watch.aclose()  # type: ignore[attr-defined]


def test_instance_url_brackets_ipv6() -> None:
    assert inst(1).url == "http://127.0.0.1:9001"
    assert Instance(id="x", service="s", address="::1", port=80).url == "http://[::1]:80"


async def test_static_registry_resolves_its_configuration() -> None:
    registry = registry_from_url(
        "static:inventory=127.0.0.1:8001,inventory=127.0.0.1:8002,payment=[::1]:8003"
    )
    assert isinstance(registry, StaticRegistry)
    assert [i.url for i in await registry.resolve("inventory")] == [
        "http://127.0.0.1:8001",
        "http://127.0.0.1:8002",
    ]
    assert [i.url for i in await registry.resolve("payment")] == ["http://[::1]:8003"]


@pytest.mark.parametrize(
    "url", ["static:inventory", "static:=1.2.3.4:5", "static:x=host:port", "zk://x"]
)
def test_bad_registry_urls_say_what_is_wrong(url: str) -> None:
    with pytest.raises(ConfigurationError):
        registry_from_url(url)


def test_round_robin_takes_turns_per_service() -> None:
    balancer = RoundRobin()
    three = [inst(1), inst(2), inst(3)]
    picks = [balancer.pick("inventory", three).id for _ in range(6)]
    assert picks == ["inventory-1", "inventory-2", "inventory-3"] * 2
