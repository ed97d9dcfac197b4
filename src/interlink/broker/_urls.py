"""Choosing a broker backend from a URL."""

from __future__ import annotations

import urllib.parse
from typing import Any

from interlink._errors import ConfigurationError
from interlink.broker._base import Broker
from interlink.broker._memory import MemoryBroker
from interlink.broker._nats_streams import StreamSettings

__all__ = ["broker_from_url"]

_SETTINGS = {
    "max_bytes": int,
    "max_age": float,
    "dead_letter_max_age": float,
    "duplicate_window": float,
    "ack_wait": float,
    "max_ack_pending": int,
    "partitions": int,
}


def _stream_settings(url: str, query: str) -> StreamSettings:
    """``nats://host:4222?ack_wait=5&partitions=16``: stream and consumer defaults."""
    values: dict[str, Any] = {}
    for name, raw in urllib.parse.parse_qsl(query, keep_blank_values=True):
        kind = _SETTINGS.get(name)
        if kind is None:
            raise ConfigurationError(
                f"unknown setting {name!r} in {url!r}; known: {sorted(_SETTINGS)}"
            )
        try:
            values[name] = kind(raw)
        except ValueError:
            raise ConfigurationError(f"{name} in {url!r} must be a number, not {raw!r}") from None
    return StreamSettings(**values)


def broker_from_url(url: str, *, directory: str = ".interlink") -> Broker:
    """``memory://``, ``nats://host:port`` or ``embedded`` (a JetStream child process whose
    store lives under ``directory``)."""
    scheme = url.partition("://")[0] if "://" in url else url
    if scheme == "memory":
        return MemoryBroker()
    if scheme in ("nats", "tls") or url.partition("?")[0] == "embedded":
        from interlink.broker._nats import NatsBroker
        from interlink.embedded import EmbeddedNats

        address, _, query = url.partition("?")
        settings = _stream_settings(url, query)
        if address == "embedded":
            return NatsBroker("embedded", settings=settings, embedded=EmbeddedNats(directory))
        return NatsBroker(address, settings=settings)
    raise ConfigurationError(
        f"unknown broker URL {url!r}: interlink supports 'memory://', 'nats://host:port' "
        "and 'embedded'"
    )
