"""A rate-limit store shared by gateway replicas: one Redis, one Lua script per decision.

Invariant: a decision is one EVALSHA, so Redis runs the read, the check and the write with
nothing in between; concurrent requests from any number of replicas are counted exactly.
Time is Redis's own (``TIME``), so replicas with skewed clocks agree.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from itertools import count
from typing import TYPE_CHECKING, Any

from interlink._errors import ConfigurationError
from interlink.gateway._ratelimit_store import (
    Algorithm,
    Decision,
    StoreUnavailable,
    bucket_decision,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStore"]

_INSTALL = 'pip install "interlink[redis]"'

# KEYS[1]: the bucket hash; ARGV: limit, refill per microsecond. Returns allowed, tokens.
_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or limit
local ts = tonumber(state[2]) or now
tokens = math.min(limit, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((limit - tokens) / rate / 1000) + 1000)
return {allowed, tostring(tokens)}
"""

# KEYS[1]: the log (a sorted set of request times); ARGV: limit, window in microseconds, a
# unique member. Returns allowed, count, microseconds until the oldest entry leaves.
_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local allowed = 0
if n < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  n = n + 1
  allowed = 1
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local reset = 0
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
return {allowed, n, string.format('%.0f', reset)}
"""


class RedisStore:
    """Counts in Redis at ``url``, under ``prefix``; each call waits at most ``timeout``."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "interlink:ratelimit:",
        timeout: float | timedelta = 0.5,
        max_connections: int = 64,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        self.max_connections = max_connections
        self._client: Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._member = uuid.uuid4().hex
        self._sequence = count()

    def _connect(self) -> Any:
        try:
            import redis.asyncio
        except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
            raise ConfigurationError(f"a Redis rate-limit store needs redis: {_INSTALL}") from exc
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=self.timeout,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
        )
        self._client = client = redis.asyncio.Redis.from_pool(pool)
        self._scripts = {
            "token_bucket": client.register_script(_BUCKET),
            "sliding_window": client.register_script(_WINDOW),
        }
        return client

    async def acquire(self, key: str, algorithm: Algorithm, limit: int, per: float) -> Decision:
        import redis.exceptions

        if self._client is None:
            self._connect()
        name = self.prefix + key
        try:
            if algorithm == "token_bucket":
                rate = limit / per / 1_000_000
                allowed, tokens = await self._scripts[algorithm](
                    keys=[name], args=[limit, repr(rate)]
                )
                return bucket_decision(bool(allowed), float(tokens), limit, limit / per)
            member = f"{self._member}:{next(self._sequence)}"
            window = round(per * 1_000_000)
            allowed, n, reset = await self._scripts[algorithm](
                keys=[name], args=[limit, window, member]
            )
        except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
            raise StoreUnavailable(f"rate-limit store {self.url}: {exc}") from exc
        wait = float(reset) / 1_000_000
        return Decision(bool(allowed), limit - int(n), wait, 0.0 if allowed else wait)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
