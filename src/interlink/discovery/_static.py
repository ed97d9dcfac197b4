"""``static:``: a fixed list of addresses, for running services without a registry server.

``static:inventory=127.0.0.1:8001,payment=127.0.0.1:8002,payment=127.0.0.1:8003``
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from interlink._errors import ConfigurationError
from interlink.discovery._base import Instance, RegistryEvent

__all__ = ["StaticRegistry"]


class StaticRegistry:
    """Resolves from its configuration; registration is accepted and ignored."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._instances: dict[str, list[Instance]] = {}
        spec = url.removeprefix("static:").lstrip("/")
        for entry in filter(None, (part.strip() for part in spec.split(","))):
            service, _, address = entry.partition("=")
            host, _, port = address.rpartition(":")
            if not service or not host or not port.isdigit():
                raise ConfigurationError(
                    f"bad static registry entry {entry!r}: expected service=host:port"
                )
            found = self._instances.setdefault(service, [])
            found.append(
                Instance(
                    id=f"{service}@{address}",
                    service=service,
                    address=host.strip("[]"),
                    port=int(port),
                )
            )

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def register(self, instance: Instance, *, ttl: float) -> None:
        return None

    async def heartbeat(self, instance: Instance, *, ttl: float) -> None:
        return None

    async def deregister(self, instance: Instance) -> None:
        return None

    async def resolve(self, service: str) -> list[Instance]:
        return list(self._instances.get(service, ()))

    async def services(self) -> list[str]:
        return sorted(self._instances)

    async def watch(self, service: str) -> AsyncIterator[RegistryEvent]:
        # Nothing ever changes; the iterator ends at once.
        for _ in ():
            yield RegistryEvent("reset", None)
