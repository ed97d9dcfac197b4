"""The edge: an API gateway and backends-for-frontend (docs/gateway.md).

A :class:`Gateway` is an ASGI app of :class:`Route` rules that reach services through
discovery and the resilience policies, aggregate several services into one answer, serve
per-client route sets (:class:`Bff`) and split traffic between service versions. Edge policies
are ASGI middleware objects with one method, ``wrap(app) -> app``. Mounted on routes:
:class:`EventFeed` (WebSocket push of broker events) and :func:`graphql_app`.
"""

from interlink.gateway._aggregate import Aggregate, Part
from interlink.gateway._apikeys import ApiKey, ApiKeys
from interlink.gateway._bff import Bff
from interlink.gateway._cache import Cache
from interlink.gateway._feed_frames import FeedEvent
from interlink.gateway._feed_hub import Allow, FeedStats
from interlink.gateway._gateway import Gateway
from interlink.gateway._graphql import Caller, graphql_app, graphql_schema
from interlink.gateway._identity import Identity
from interlink.gateway._jwks import Jwks, JwksUnavailable
from interlink.gateway._jwt import JwtAuth
from interlink.gateway._ratelimit import RateLimit
from interlink.gateway._ratelimit_redis import RedisStore
from interlink.gateway._ratelimit_store import Decision, LocalStore
from interlink.gateway._route import Middleware, Route
from interlink.gateway._traffic import Mirror, Versions
from interlink.gateway._websocket import EventFeed, allow_all

__all__ = [
    "Aggregate",
    "Allow",
    "ApiKey",
    "ApiKeys",
    "Bff",
    "Cache",
    "Caller",
    "Decision",
    "EventFeed",
    "FeedEvent",
    "FeedStats",
    "Gateway",
    "Identity",
    "Jwks",
    "JwksUnavailable",
    "JwtAuth",
    "LocalStore",
    "Middleware",
    "Mirror",
    "Part",
    "RateLimit",
    "RedisStore",
    "Route",
    "Versions",
    "allow_all",
    "graphql_app",
    "graphql_schema",
]
