"""Choosing a registry backend from a URL."""

from __future__ import annotations

from interlink._errors import ConfigurationError
from interlink.discovery._base import Registry
from interlink.discovery._memory import MemoryRegistry
from interlink.discovery._static import StaticRegistry

__all__ = ["registry_from_url"]


def registry_from_url(url: str, *, directory: str = ".interlink") -> Registry:
    """``memory://``, ``static:svc=host:port,…``, ``nats://host:port``, ``embedded`` (the
    JetStream server under ``directory`` that the embedded broker also uses),
    ``etcd://host:port[,host:port]`` or ``consul://host:port`` (a Consul agent)."""
    if url == "memory://":
        return MemoryRegistry()
    if url.startswith("static:"):
        return StaticRegistry(url)
    if url.startswith(("nats://", "tls://")) or url == "embedded":
        from interlink.discovery._nats import NatsRegistry
        from interlink.embedded import EmbeddedNats

        if url == "embedded":
            return NatsRegistry("embedded", embedded=EmbeddedNats(directory))
        return NatsRegistry(url)
    if url.startswith("etcd://"):
        from interlink.discovery._etcd import EtcdRegistry

        return EtcdRegistry(url)
    if url.startswith("consul://"):
        from interlink.discovery._consul import ConsulRegistry

        return ConsulRegistry(url)
    raise ConfigurationError(
        f"unknown registry URL {url!r}: interlink supports 'memory://', 'embedded', "
        "'nats://host:port', 'etcd://host:port[,host:port]', 'consul://host:port' and "
        "'static:service=host:port,…'"
    )
