"""The Registry seam: where the instances of a service can be found, and whether they are up.

Small on purpose: register (with a TTL), heartbeat, deregister, resolve, watch. Health
checking, caching, load balancing and outlier ejection are built once above it.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import msgspec

__all__ = ["Health", "Instance", "Registry", "RegistryEvent"]


class Health(enum.StrEnum):
    PASSING = "passing"
    WARNING = "warning"
    CRITICAL = "critical"


class Instance(msgspec.Struct, frozen=True, kw_only=True):
    """One running copy of a service, reachable at ``address:port``."""

    id: str
    service: str
    address: str
    port: int
    transports: tuple[str, ...] = ("http",)
    version: str = ""
    zone: str = ""
    weight: int = 100
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    health: Health = Health.PASSING

    @property
    def url(self) -> str:
        """``https://`` when the instance serves mutual TLS (its metadata's ``tls``)."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        scheme = "https" if self.metadata.get("tls") else "http"
        return f"{scheme}://{host}:{self.port}"

    def to_bytes(self) -> bytes:
        return _ENCODER.encode(self)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Instance:
        return _DECODER.decode(raw)

    def with_health(self, health: Health) -> Instance:
        return msgspec.structs.replace(self, health=health)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Instance)


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """``up`` (added or changed) / ``down`` (gone: deregistered or its TTL lapsed) for one
    instance; ``reset`` asks the watcher to resolve afresh (it may have missed changes)."""

    kind: Literal["up", "down", "reset"]
    instance: Instance | None


@runtime_checkable
class Registry(Protocol):
    url: str

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def register(self, instance: Instance, *, ttl: float) -> None:
        """Add or replace ``instance``; it disappears ``ttl`` seconds after its last
        register or heartbeat unless refreshed."""

    async def heartbeat(self, instance: Instance, *, ttl: float) -> None:
        """Refresh the TTL (re-registering ``instance`` if it had already lapsed)."""

    async def deregister(self, instance: Instance) -> None: ...

    async def resolve(self, service: str) -> list[Instance]: ...

    async def services(self) -> list[str]:
        """Names of the services with at least one instance."""
        ...

    def watch(self, service: str) -> AsyncIterator[RegistryEvent]:
        """Changes to ``service``'s instances from now on, until the iterator is closed."""
        ...
