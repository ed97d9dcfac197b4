"""A JSON Web Key Set fetched over HTTP, cached, and refreshed before it expires.

Invariant: at most one fetch runs at a time; every caller that needs one awaits the same task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from datetime import timedelta
from typing import Any

import aiohttp

from interlink._clock import SYSTEM_CLOCK, Clock

__all__ = ["Jwks", "JwksUnavailable"]

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)")
_MAX_BODY = 1 << 20
_MAX_KEYS = 64


class JwksUnavailable(Exception):
    """No signing key set is cached (or it expired) and fetching one failed."""


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Jwks:
    """The keys at ``url``, by ``kid``.

    A fetched set lives for the response's ``Cache-Control: max-age`` (else ``ttl``) and is
    refreshed in the background after ``refresh_at`` of that lifetime. A failed refresh is
    retried with exponential backoff (``retry_initial`` doubling up to ``retry_max``) while the
    cached keys stay in use; only when they expire do lookups fail with :class:`JwksUnavailable`.
    An unknown ``kid`` triggers one refetch at most every ``unknown_kid_interval`` (key rotation
    without letting random kids hammer the key server).
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float | timedelta = 300.0,
        refresh_at: float = 0.8,
        unknown_kid_interval: float | timedelta = 10.0,
        retry_initial: float | timedelta = 0.5,
        retry_max: float | timedelta = 30.0,
        fetch_timeout: float | timedelta = 5.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not 0.0 < refresh_at <= 1.0:
            raise ValueError("refresh_at is a fraction of the key set's lifetime, in (0, 1]")
        self.url = url
        self.ttl = _seconds(ttl)
        self.refresh_at = refresh_at
        self.unknown_kid_interval = _seconds(unknown_kid_interval)
        self.retry_initial = _seconds(retry_initial)
        self.retry_max = _seconds(retry_max)
        self.fetch_timeout = _seconds(fetch_timeout)
        self.clock = clock
        self.fetches = 0
        """Fetch attempts so far (successful or not)."""
        self.generation = 0
        """Successful fetches so far; what a verified-token cache is keyed on."""
        self._keys: dict[str | None, Any] = {}
        self._expires = float("-inf")
        self._refresh_due = float("-inf")
        self._last_unknown_fetch = float("-inf")
        self._session: aiohttp.ClientSession | None = None
        self._fetching: asyncio.Task[bool] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def __aenter__(self) -> Jwks:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Fetch once (a failure is retried in the background) and start the refresher."""
        if self._session is not None:
            return
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(self.fetch_timeout))
        await self._fetch()
        self._refresher = asyncio.create_task(self._refresh_forever())

    async def aclose(self) -> None:
        for task in (self._refresher, self._fetching):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._refresher = self._fetching = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def valid(self) -> bool:
        """Whether a fetched key set is cached and has not expired."""
        return self.clock.monotonic() < self._expires

    async def key(self, kid: str | None) -> Any | None:
        """The key for ``kid`` (a ``jwt.PyJWK``), or None when the set does not have it."""
        if self._session is None:
            await self.start()
        if self.clock.monotonic() >= self._expires and not await self._fetch():
            raise JwksUnavailable(f"no valid key set from {self.url}")
        found = self._keys.get(kid)
        if found is not None:
            return found
        now = self.clock.monotonic()
        if now - self._last_unknown_fetch < self.unknown_kid_interval:
            return None
        self._last_unknown_fetch = now
        await self._fetch()
        return self._keys.get(kid)

    async def _fetch(self) -> bool:
        if self._fetching is None or self._fetching.done():
            self._fetching = asyncio.create_task(self._fetch_once())
        task = self._fetching
        try:
            return await asyncio.shield(task)
        finally:
            if task.done() and self._fetching is task:
                self._fetching = None

    async def _fetch_once(self) -> bool:
        assert self._session is not None
        self.fetches += 1
        try:
            async with self._session.get(self.url) as response:
                response.raise_for_status()
                body = await response.content.read(_MAX_BODY + 1)
                if len(body) > _MAX_BODY:
                    raise ValueError("key set larger than 1 MiB")
                lifetime = _lifetime(response.headers.get("cache-control", ""), self.ttl)
                keys = _parse(json.loads(body))
        except (aiohttp.ClientError, TimeoutError, ValueError, OSError):
            return False
        now = self.clock.monotonic()
        self.generation += 1
        self._keys = keys
        self._expires = now + lifetime
        self._refresh_due = now + lifetime * self.refresh_at
        self._wake.set()
        return True

    async def _refresh_forever(self) -> None:
        delay = self.retry_initial
        while True:
            if self._expires == float("-inf") or self.clock.monotonic() >= self._refresh_due:
                if await self._fetch():
                    delay = self.retry_initial
                    continue
                await self.clock.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            self._wake.clear()
            wait = self._refresh_due - self.clock.monotonic()
            sleeper = asyncio.ensure_future(self.clock.sleep(wait))
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait((sleeper, woken), return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                woken.cancel()


def _lifetime(cache_control: str, default: float) -> float:
    found = _MAX_AGE.search(cache_control.lower())
    return float(found.group(1)) if found else default


def _parse(document: Any) -> dict[str | None, Any]:
    import jwt

    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set")
    keys: dict[str | None, Any] = {}
    for entry in document["keys"][:_MAX_KEYS]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK.from_dict(entry)
        except jwt.PyJWTError:
            continue  # a key type or algorithm we cannot use; the others still count
        keys[key.key_id] = key
    if len(keys) == 1:
        keys.setdefault(None, next(iter(keys.values())))  # a token without kid, one key
    if not keys:
        raise ValueError("no usable signing key in the set")
    return keys
