"""Cache: a shared HTTP cache in front of one route (a subset of RFC 9111, for GET and HEAD)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink.gateway._cache_control import (
    directives,
    etag_matches,
    freshness,
    seconds,
    storable,
)
from interlink.gateway._cache_store import CacheStore, Entry

__all__ = ["Cache"]

Header = tuple[bytes, bytes]
_UNSAFE_TO_STORE = frozenset(
    {b"age", b"connection", b"keep-alive", b"transfer-encoding", b"x-cache"}
)
_NOT_MODIFIED_KEEPS = frozenset(
    {b"cache-control", b"content-location", b"date", b"etag", b"expires", b"last-modified", b"vary"}
)
_VALIDATORS = frozenset({b"if-none-match", b"if-modified-since"})


class Cache:
    """Store upstream responses to GET and answer later GET/HEAD requests from memory.

    A response is stored only with an explicit lifetime (``s-maxage``, else ``max-age``) and
    without ``no-store``, ``private``, ``Set-Cookie`` or ``Vary: *``; for a request carrying
    ``Authorization`` only when the response says ``public``, ``s-maxage`` or
    ``must-revalidate``. Bounded by ``max_entries`` and ``max_bytes`` (least recently used
    first out); a body over ``max_entry_bytes`` is passed through and not stored.
    """

    def __init__(
        self,
        *,
        max_entries: int = 1024,
        max_bytes: int = 64 << 20,
        max_entry_bytes: int = 1 << 20,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.store = CacheStore(max_entries=max_entries, max_bytes=max_bytes)
        self.max_entry_bytes = max_entry_bytes
        self.clock = clock

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def cache(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
            elif scope["method"] in ("GET", "HEAD"):
                await self._read(app, scope, receive, send)
            else:
                await self._write(app, scope, receive, send)

        return cache

    async def _read(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        request = _headers(scope["headers"])
        asked = directives(request.get(b"cache-control"))
        if "no-store" in asked:
            await app(scope, receive, _tagged(send, b"BYPASS"))
            return
        url = _url(scope, request)
        now = self.clock.monotonic()
        entry = self.store.lookup(url, request)
        if entry is not None and entry.fresh(now) and _acceptable(entry, asked, now):
            await self._serve(entry, scope, request, send, b"HIT")
            return
        if entry is not None and entry.etag is not None and scope["method"] == "GET":
            await self._revalidate(app, entry, scope, request, receive, send)
            return
        await self._fetch(app, url, scope, request, receive, send)

    async def _serve(
        self, entry: Entry, scope: Scope, request: dict[bytes, bytes], send: Send, how: bytes
    ) -> None:
        age = str(int(entry.current_age(self.clock.monotonic()))).encode()
        condition = request.get(b"if-none-match")
        if condition is not None and entry.etag is not None and etag_matches(condition, entry.etag):
            kept = [(n, v) for n, v in entry.headers if n in _NOT_MODIFIED_KEEPS]
            headers = [*kept, (b"age", age), (b"x-cache", how)]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [*entry.headers, (b"age", age), (b"x-cache", how)]
        await send({"type": "http.response.start", "status": entry.status, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else entry.body
        await send({"type": "http.response.body", "body": body})

    async def _revalidate(
        self,
        app: ASGIApp,
        entry: Entry,
        scope: Scope,
        request: dict[bytes, bytes],
        receive: Receive,
        send: Send,
    ) -> None:
        assert entry.etag is not None
        headers = [(n, v) for n, v in scope["headers"] if n not in _VALIDATORS]
        conditional = {**scope, "headers": [*headers, (b"if-none-match", entry.etag)]}
        replaced: list[Message] = []

        async def intercept(message: Message) -> None:
            if replaced or (message["type"] == "http.response.start" and message["status"] == 304):
                replaced.append(message)
            else:
                await capture(message)

        capture = self._capturing(_url(scope, request), scope, request, send)
        await app(conditional, receive, intercept)
        if replaced:
            self._refresh(entry, replaced[0])
            await self._serve(entry, scope, request, send, b"REVALIDATED")

    async def _fetch(
        self,
        app: ASGIApp,
        url: bytes,
        scope: Scope,
        request: dict[bytes, bytes],
        receive: Receive,
        send: Send,
    ) -> None:
        await app(scope, receive, self._capturing(url, scope, request, send))

    def _capturing(self, url: bytes, scope: Scope, request: dict[bytes, bytes], send: Send) -> Send:
        """A ``send`` that passes the response on and stores it when it may."""
        chunks: list[bytes] = []
        kept: list[Entry | None] = [None]
        size = 0

        async def capture(message: Message) -> None:
            nonlocal size
            if message["type"] == "http.response.start":
                kept[0] = self._candidate(message, scope, request)
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (b"x-cache", b"MISS")],
                }
            elif message["type"] == "http.response.body" and kept[0] is not None:
                body = message.get("body", b"")
                size += len(body)
                if size > self.max_entry_bytes:
                    kept[0] = None
                    chunks.clear()
                else:
                    chunks.append(body)
                    if not message.get("more_body", False):
                        entry, kept[0] = kept[0], None
                        entry.body = b"".join(chunks)
                        self.store.put(url, entry)
            await send(message)

        return capture

    def _candidate(self, start: Message, scope: Scope, request: dict[bytes, bytes]) -> Entry | None:
        """The entry this response would become, or None when it must not be stored."""
        if scope["method"] != "GET":
            return None
        response = _headers(start.get("headers", ()))
        rules = directives(response.get(b"cache-control"))
        status = int(start["status"])
        if not storable(status, rules, response, b"authorization" in request):
            return None
        names = [n.strip().lower() for n in response.get(b"vary", b"").split(b",") if n.strip()]
        return Entry(
            status=status,
            headers=[(n, v) for n, v in start.get("headers", ()) if n not in _UNSAFE_TO_STORE],
            body=b"",
            stored_at=self.clock.monotonic(),
            age=seconds(response.get(b"age", b"").decode("latin-1")) or 0.0,
            lifetime=freshness(rules) or 0.0,
            etag=response.get(b"etag"),
            revalidate="no-cache" in rules,
            vary=tuple((name, request.get(name)) for name in names),
        )

    def _refresh(self, entry: Entry, not_modified: Message) -> None:
        """Update a stored entry from a 304 (RFC 9111 §4.3.4): new metadata, same body."""
        before = entry.size
        fresh = _headers(not_modified.get("headers", ()))
        updated = {n: v for n, v in fresh.items() if n in _NOT_MODIFIED_KEEPS}
        entry.headers = [(n, v) for n, v in entry.headers if n not in updated]
        entry.headers.extend(updated.items())
        rules = directives(_headers(entry.headers).get(b"cache-control"))
        entry.lifetime = freshness(rules) or 0.0
        entry.revalidate = "no-cache" in rules
        entry.stored_at = self.clock.monotonic()
        entry.age = seconds(fresh.get(b"age", b"").decode("latin-1")) or 0.0
        self.store.resize(entry, before)

    async def _write(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """An unsafe method that succeeds drops what is stored for its URL (RFC 9111 §4.4)."""
        url = _url(scope, _headers(scope["headers"]))

        async def invalidating(message: Message) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 400:
                self.store.invalidate(url)
            await send(message)

        await app(scope, receive, invalidating)


def _headers(raw: Iterable[Header]) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in raw:
        lower = name.lower()
        found[lower] = found[lower] + b", " + value if lower in found else value
    return found


def _url(scope: Scope, request: dict[bytes, bytes]) -> bytes:
    return b"%s|%s?%s" % (
        request.get(b"host", b""),
        scope["path"].encode("utf-8", "surrogateescape"),
        scope.get("query_string", b""),
    )


def _acceptable(entry: Entry, asked: dict[str, str | None], now: float) -> bool:
    """Whether the request's own directives accept a fresh stored response."""
    if "no-cache" in asked:
        return False
    limit = seconds(asked.get("max-age"))
    return limit is None or entry.current_age(now) <= limit


def _tagged(send: Send, how: bytes) -> Send:
    async def tagged(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), (b"x-cache", how)]}
        await send(message)

    return tagged
