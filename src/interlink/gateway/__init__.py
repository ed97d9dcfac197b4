"""The edge: an API gateway's routes and the policies in front of them.

Edge policies are ASGI middleware objects with one method, ``wrap(app) -> app``.
"""

from interlink.gateway._apikeys import ApiKey, ApiKeys
from interlink.gateway._cache import Cache
from interlink.gateway._identity import Identity
from interlink.gateway._jwks import Jwks, JwksUnavailable
from interlink.gateway._jwt import JwtAuth
from interlink.gateway._ratelimit import RateLimit
from interlink.gateway._ratelimit_redis import RedisStore
from interlink.gateway._ratelimit_store import Decision, LocalStore

__all__ = [
    "ApiKey",
    "ApiKeys",
    "Cache",
    "Decision",
    "Identity",
    "Jwks",
    "JwksUnavailable",
    "JwtAuth",
    "LocalStore",
    "RateLimit",
    "RedisStore",
]
