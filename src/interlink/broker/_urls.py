"""Choosing a broker backend from a URL."""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any, TypeVar

from interlink._errors import ConfigurationError
from interlink.broker._base import Broker
from interlink.broker._kafka import KafkaSettings
from interlink.broker._memory import MemoryBroker
from interlink.broker._nats_streams import StreamSettings
from interlink.broker._rabbitmq import RabbitSettings
from interlink.broker._redis_layout import RedisSettings

__all__ = ["broker_from_url", "redacted_url"]

_Settings = TypeVar("_Settings", StreamSettings, RedisSettings, RabbitSettings, KafkaSettings)
_KINDS = {"int": int, "float": float}


def _settings(cls: type[_Settings], url: str, query: str) -> _Settings:
    """``nats://host:4222?ack_wait=5&partitions=16``: the backend's settings from a query."""
    known = {f.name: _KINDS[str(f.type)] for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for name, raw in urllib.parse.parse_qsl(query, keep_blank_values=True):
        kind = known.get(name)
        if kind is None:
            raise ConfigurationError(f"unknown setting {name!r} in {url!r}; known: {sorted(known)}")
        try:
            values[name] = kind(raw)
        except ValueError:
            raise ConfigurationError(f"{name} in {url!r} must be a number, not {raw!r}") from None
    return cls(**values)


def _cluster_size(url: str, query: str) -> tuple[int, str]:
    """``embedded?cluster=3``: how many nodes (1 without it), and the rest of the query."""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    sizes = [raw for name, raw in pairs if name == "cluster"]
    rest = urllib.parse.urlencode([(name, raw) for name, raw in pairs if name != "cluster"])
    if not sizes:
        return 1, rest
    if not sizes[-1].isdigit() or int(sizes[-1]) < 3:
        raise ConfigurationError(f"cluster in {url!r} must be a number of nodes, 3 or more")
    return int(sizes[-1]), rest


def broker_from_url(url: str, *, directory: str = ".interlink") -> Broker:
    """``memory://``, ``nats://host:port[,host:port…]``, ``embedded`` (a JetStream child
    process whose store lives under ``directory``; ``embedded?cluster=3``: a cluster of three),
    ``redis://host:port``, ``amqp://…`` or ``kafka://host:port``."""
    scheme = url.partition("://")[0] if "://" in url else url
    address, _, query = url.partition("?")
    if scheme == "memory":
        return MemoryBroker()
    if scheme in ("nats", "tls") or address == "embedded":
        from interlink.broker._nats import NatsBroker
        from interlink.embedded import EmbeddedNats, EmbeddedNatsCluster

        if address == "embedded":
            nodes, query = _cluster_size(url, query)
            settings = _settings(StreamSettings, url, query)
            server = (
                EmbeddedNats(directory)
                if nodes == 1
                else EmbeddedNatsCluster(directory, nodes=nodes)
            )
            return NatsBroker("embedded", settings=settings, embedded=server)
        return NatsBroker(address, settings=_settings(StreamSettings, url, query))
    if scheme in ("amqp", "amqps"):
        from interlink.broker._rabbitmq import RabbitBroker

        return RabbitBroker(address, settings=_settings(RabbitSettings, url, query))
    if scheme in ("redis", "rediss"):
        from interlink.broker._redis import RedisBroker

        return RedisBroker(address, settings=_settings(RedisSettings, url, query))
    if scheme == "kafka":
        from interlink.broker._kafka import KafkaBroker

        return KafkaBroker(address, settings=_settings(KafkaSettings, url, query))
    raise ConfigurationError(
        f"unknown broker URL {url!r}: interlink supports 'memory://', 'nats://host:port', "
        "'redis://host:port', 'amqp://host:port', 'kafka://host:port' and 'embedded'"
    )


def redacted_url(url: str) -> str:
    """The URL without its password (``amqp://user:secret@host`` → ``amqp://user@host``), for
    logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{credentials.partition(':')[0]}{at}{host}" if at else url
