"""The edge: an API gateway and backends-for-frontend (docs/gateway.md).

A :class:`Gateway` is an ASGI app of :class:`Route` rules that reach services through
discovery and the resilience policies, aggregate several services into one answer, serve
per-client route sets (:class:`Bff`) and split traffic between service versions.
"""

from interlink.gateway._aggregate import Aggregate, Part
from interlink.gateway._bff import Bff
from interlink.gateway._gateway import Gateway
from interlink.gateway._identity import Identity
from interlink.gateway._route import Middleware, Route
from interlink.gateway._traffic import Mirror, Versions

__all__ = [
    "Aggregate",
    "Bff",
    "Gateway",
    "Identity",
    "Middleware",
    "Mirror",
    "Part",
    "Route",
    "Versions",
]
