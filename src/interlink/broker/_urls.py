"""Choosing a broker backend from a URL."""

from __future__ import annotations

from interlink._errors import ConfigurationError
from interlink.broker._base import Broker
from interlink.broker._memory import MemoryBroker

__all__ = ["broker_from_url"]


def broker_from_url(url: str) -> Broker:
    """``memory://`` today; NATS, RabbitMQ, Redis and Kafka plug in here behind extras."""
    scheme = url.partition("://")[0] if "://" in url else url
    if scheme == "memory":
        return MemoryBroker()
    raise ConfigurationError(
        f"unknown broker URL {url!r}: this version of interlink supports 'memory://'"
    )
