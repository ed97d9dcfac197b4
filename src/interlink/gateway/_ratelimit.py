"""RateLimit: the edge middleware that counts requests per key and refuses with 429."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.gateway._identity import identity_of
from interlink.gateway._ratelimit_redis import RedisStore
from interlink.gateway._ratelimit_store import (
    Algorithm,
    Decision,
    LocalStore,
    RateStore,
    StoreUnavailable,
)
from interlink.gateway._refusal import refuse

__all__ = ["RateLimit"]

KeyFunction = Callable[[Scope], str | None]


class RateLimit:
    """Allow ``limit`` requests per ``per`` seconds for each key.

    ``key`` picks what is counted: ``"ip"`` (the client address), ``"subject"`` (the
    authenticated identity's subject), ``"claim:NAME"`` (one of its claims), ``"route"`` (one
    count for everything through this middleware) or a function of the ASGI scope (returning
    None lets the request through uncounted). ``"subject"`` and ``"claim:..."`` fall back to
    the client address when the request carries no identity or no such claim.

    ``store`` is ``"memory"`` (this process, at most ``max_keys`` keys), a ``redis://`` URL
    (shared by every replica, exact under concurrency) or a store object. When a shared store
    cannot answer, ``on_store_error="allow"`` lets the request through and ``"deny"`` answers
    503.
    """

    def __init__(
        self,
        limit: int,
        per: float | timedelta,
        *,
        algorithm: Algorithm = "sliding_window",
        key: str | KeyFunction = "ip",
        store: str | RateStore = "memory",
        name: str = "default",
        on_store_error: Literal["allow", "deny"] = "allow",
        max_keys: int = 10_000,
        headers: bool = True,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.per = per.total_seconds() if isinstance(per, timedelta) else float(per)
        if self.per <= 0:
            raise ValueError("per must be positive")
        if algorithm not in ("token_bucket", "sliding_window"):
            raise ValueError(f"unknown algorithm {algorithm!r}")
        self.algorithm: Algorithm = algorithm
        self.name = name
        self.on_store_error = on_store_error
        self.headers = headers
        self._key = _key_function(key)
        if isinstance(store, str):
            self.store: RateStore = (
                LocalStore(max_keys=max_keys, clock=clock)
                if store == "memory"
                else RedisStore(store)
            )
        else:
            self.store = store
        self._local = self.store if isinstance(self.store, LocalStore) else None
        self._policy = f"{limit};w={math.ceil(self.per)}".encode()

    async def __aenter__(self) -> RateLimit:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.store.aclose()

    async def check(self, scope: Scope) -> Decision | None:
        """Count the request in ``scope``; None when it is not counted (no key)."""
        found = self._key(scope)
        if found is None:
            return None
        key = f"{self.name}:{found}"
        if self._local is not None:
            return self._local.decide(key, self.algorithm, self.limit, self.per)
        return await self.store.acquire(key, self.algorithm, self.limit, self.per)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def rate_limit(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            try:
                decision = await self.check(scope)
            except StoreUnavailable as exc:
                if self.on_store_error == "deny":
                    await refuse(scope, send, 503, "ServiceUnavailable", str(exc))
                    return
                decision = None
            if decision is None:
                await app(scope, receive, send)
                return
            fields = self._fields(decision)
            if not decision.allowed:
                retry = str(max(1, math.ceil(decision.retry_after))).encode()
                fields.append((b"retry-after", retry))
                await refuse(scope, send, 429, "TooManyRequests", "rate limit exceeded", fields)
                return
            if not self.headers or scope["type"] != "http":
                await app(scope, receive, send)
                return

            async def send_with_fields(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), *fields]}
                await send(message)

            await app(scope, receive, send_with_fields)

        return rate_limit

    def _fields(self, decision: Decision) -> list[tuple[bytes, bytes]]:
        if not self.headers:
            return []
        return [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(decision.remaining).encode()),
            (b"ratelimit-reset", str(math.ceil(decision.reset)).encode()),
            (b"ratelimit-policy", self._policy),
        ]


def _key_function(key: str | KeyFunction) -> KeyFunction:
    if callable(key):
        return key
    if key == "ip":
        return _client_ip
    if key == "route":
        return lambda scope: "route"
    if key == "subject":
        return _subject
    if key.startswith("claim:"):
        return _claim(key[len("claim:") :])
    raise ValueError(
        f"unknown rate-limit key {key!r}: ip, subject, claim:NAME, route or a function"
    )


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return f"ip:{client[0]}" if client else "ip:unknown"


def _subject(scope: Scope) -> str:
    identity = identity_of(scope)
    return f"sub:{identity.subject}" if identity is not None else _client_ip(scope)


def _claim(name: str) -> KeyFunction:
    def claim(scope: Scope) -> str:
        identity = identity_of(scope)
        value = identity.claims.get(name) if identity is not None else None
        return f"claim:{name}:{value}" if value is not None else _client_ip(scope)

    return claim
