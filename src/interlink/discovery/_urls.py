"""Choosing a registry backend from a URL."""

from __future__ import annotations

from interlink._errors import ConfigurationError
from interlink.discovery._base import Registry
from interlink.discovery._memory import MemoryRegistry
from interlink.discovery._static import StaticRegistry

__all__ = ["registry_from_url"]


def registry_from_url(url: str) -> Registry:
    if url == "memory://":
        return MemoryRegistry()
    if url.startswith("static:"):
        return StaticRegistry(url)
    raise ConfigurationError(
        f"unknown registry URL {url!r}: this version of interlink supports 'memory://' and "
        "'static:service=host:port,…'"
    )
