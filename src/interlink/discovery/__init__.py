"""Service discovery: the Registry seam, its backends and load balancing."""

from interlink.discovery._balancer import RoundRobin
from interlink.discovery._base import Health, Instance, Registry, RegistryEvent
from interlink.discovery._memory import MemoryRegistry
from interlink.discovery._nats import NatsRegistry
from interlink.discovery._static import StaticRegistry
from interlink.discovery._urls import registry_from_url

__all__ = [
    "Health",
    "Instance",
    "MemoryRegistry",
    "NatsRegistry",
    "Registry",
    "RegistryEvent",
    "RoundRobin",
    "StaticRegistry",
    "registry_from_url",
]
