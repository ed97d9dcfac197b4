"""The Registry seam: where instances of a service can be found."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

__all__ = ["Instance", "Registry", "RegistryEvent"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Instance:
    """One running copy of a service, reachable at ``address:port``."""

    id: str
    service: str
    address: str
    port: int
    version: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """``up``/``down`` for one instance; ``reset`` asks the watcher to resolve afresh."""

    kind: Literal["up", "down", "reset"]
    instance: Instance | None


@runtime_checkable
class Registry(Protocol):
    url: str

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def register(self, instance: Instance) -> None: ...

    async def deregister(self, instance: Instance) -> None: ...

    async def resolve(self, service: str) -> list[Instance]: ...

    async def services(self) -> list[str]:
        """Names of the services with at least one instance."""
        ...

    def watch(self, service: str) -> AsyncIterator[RegistryEvent]:
        """Changes to ``service``'s instances from now on, until the iterator is closed."""
        ...
