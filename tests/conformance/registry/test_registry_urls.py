"""Choosing the etcd and Consul backends by URL, and what a bad URL or a missing extra says."""

from __future__ import annotations

import sys

import pytest

from interlink._errors import ConfigurationError
from interlink.discovery import ConsulRegistry, EtcdRegistry, registry_from_url
from tests.conformance.broker.conftest import unique
from tests.conformance.registry.test_registry_contract import inst
from tests.conftest import EtcdServer, free_port


def test_etcd_and_consul_urls_pick_their_backends() -> None:
    assert isinstance(registry_from_url("etcd://10.0.0.1:2379,10.0.0.2:2379"), EtcdRegistry)
    assert isinstance(registry_from_url("consul://127.0.0.1:8500"), ConsulRegistry)


@pytest.mark.parametrize("url", ["etcd://", "etcd://host:port", "etcd://a:1,", "consul://"])
def test_a_malformed_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="bad"):
        registry_from_url(url)


def test_without_aetcd_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aetcd", None)  # what `import aetcd` sees when absent
    with pytest.raises(ConfigurationError, match=r'pip install "interlink\[etcd\]"'):
        registry_from_url("etcd://127.0.0.1:2379")


async def test_an_unreachable_etcd_endpoint_is_skipped(etcd_server: EtcdServer) -> None:
    dead = f"127.0.0.1:{free_port()}"
    registry = registry_from_url(f"etcd://{dead},{etcd_server.url.removeprefix('etcd://')}")
    await registry.connect()
    try:
        service = unique("failover")
        await registry.register(inst(service, 1), ttl=30)
        assert await registry.resolve(service) == [inst(service, 1)]
        await registry.deregister(inst(service, 1))
    finally:
        await registry.close()


async def test_no_reachable_etcd_endpoint_is_a_configuration_error() -> None:
    registry = registry_from_url(f"etcd://127.0.0.1:{free_port()}")
    with pytest.raises(ConfigurationError, match="cannot connect to etcd"):
        await registry.connect()
    await registry.close()
