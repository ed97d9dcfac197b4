"""Service discovery: the Registry seam, its backends and load balancing."""

from interlink.discovery._balancer import LoadBalancer, RoundRobin
from interlink.discovery._base import Health, Instance, Registry, RegistryEvent
from interlink.discovery._consul import ConsulRegistry
from interlink.discovery._etcd import EtcdRegistry
from interlink.discovery._ewma import PeakEwma
from interlink.discovery._factory import BalancerKind, balancer
from interlink.discovery._memory import MemoryRegistry
from interlink.discovery._nats import NatsRegistry
from interlink.discovery._outlier import OutlierDetector, OutlierEjecting
from interlink.discovery._p2c import PowerOfTwoChoices
from interlink.discovery._random import Random
from interlink.discovery._ring_hash import RingHash
from interlink.discovery._static import StaticRegistry
from interlink.discovery._urls import registry_from_url
from interlink.discovery._weighted import Weighted

__all__ = [
    "BalancerKind",
    "ConsulRegistry",
    "EtcdRegistry",
    "Health",
    "Instance",
    "LoadBalancer",
    "MemoryRegistry",
    "NatsRegistry",
    "OutlierDetector",
    "OutlierEjecting",
    "PeakEwma",
    "PowerOfTwoChoices",
    "Random",
    "Registry",
    "RegistryEvent",
    "RingHash",
    "RoundRobin",
    "StaticRegistry",
    "Weighted",
    "balancer",
    "registry_from_url",
]
