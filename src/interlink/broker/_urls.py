"""Choosing a broker backend from a URL."""

from __future__ import annotations

from interlink._errors import ConfigurationError
from interlink.broker._base import Broker
from interlink.broker._memory import MemoryBroker

__all__ = ["broker_from_url"]


def broker_from_url(url: str, *, directory: str = ".interlink") -> Broker:
    """``memory://``, ``nats://host:port`` or ``embedded`` (a JetStream child process whose
    store lives under ``directory``)."""
    scheme = url.partition("://")[0] if "://" in url else url
    if scheme == "memory":
        return MemoryBroker()
    if scheme in ("nats", "tls"):
        from interlink.broker._nats import NatsBroker

        return NatsBroker(url)
    if url == "embedded":
        from interlink.broker._nats import NatsBroker
        from interlink.embedded import EmbeddedNats

        return NatsBroker("embedded", embedded=EmbeddedNats(directory))
    raise ConfigurationError(
        f"unknown broker URL {url!r}: interlink supports 'memory://', 'nats://host:port' "
        "and 'embedded'"
    )
