"""Cache through real sockets: an origin whose caching headers each test picks in the query."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from starlette.types import Receive, Scope, Send

from interlink.gateway import Cache
from interlink.testing import FakeClock
from tests.integration.gateway._edge_support import serving


class Origin:
    """Answers ``{"n": calls}``; ``?cc=`` sets Cache-Control, ``?etag=``, ``?vary=``, ``?cookie=1``,
    ``?size=N`` pads the body; a matching If-None-Match gets 304."""

    def __init__(self) -> None:
        self.calls = 0
        self.seen: list[dict[bytes, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        request = dict(scope["headers"])
        self.seen.append(request)
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        headers = [(b"content-type", b"application/json")]
        for param, header in (("cc", b"cache-control"), ("etag", b"etag"), ("vary", b"vary")):
            if param in query:
                headers.append((header, query[param].encode()))
        if "cookie" in query:
            headers.append((b"set-cookie", b"session=1"))
        etag = query.get("etag", "").encode()
        if etag and request.get(b"if-none-match") == etag:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = f'{{"n": {self.calls}, "pad": "{"x" * int(query.get("size", "0"))}"}}'.encode()
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def cached(
    **options: Any,
) -> AsyncIterator[tuple[str, Origin, aiohttp.ClientSession, FakeClock]]:
    clock = FakeClock()
    origin = Origin()
    cache = Cache(clock=clock, **options)
    async with serving(cache.wrap(origin)) as base, aiohttp.ClientSession() as session:
        yield base, origin, session, clock


async def get(
    session: aiohttp.ClientSession, url: str, method: str = "GET", **headers: str
) -> tuple[int, bytes, Any]:
    async with session.request(method, url, headers=headers) as response:
        return response.status, await response.read(), response.headers.copy()


async def test_a_fresh_response_is_served_from_memory_with_its_age() -> None:
    async with cached() as (base, origin, session, clock):
        url = f"{base}/a?cc=max-age=60"
        first = await get(session, url)
        clock.advance(7)
        second = await get(session, url)
        head = await get(session, url, "HEAD")
    assert origin.calls == 1
    assert first[2]["X-Cache"] == "MISS"
    assert (second[0], second[1], second[2]["X-Cache"]) == (200, first[1], "HIT")
    assert second[2]["Age"] == "7"
    assert second[2]["Cache-Control"] == "max-age=60"
    assert (head[0], head[1], head[2]["X-Cache"]) == (200, b"", "HIT")


async def test_s_maxage_wins_over_max_age_and_expiry_goes_back_to_the_origin() -> None:
    async with cached() as (base, origin, session, clock):
        url = f"{base}/a?cc=max-age=1000, s-maxage=10"
        await get(session, url)
        clock.advance(9)
        assert (await get(session, url))[2]["X-Cache"] == "HIT"
        clock.advance(1)
        assert (await get(session, url))[2]["X-Cache"] == "MISS"
    assert origin.calls == 2


@pytest.mark.parametrize(
    "query",
    ["cc=no-store", "cc=private, max-age=60", "cc=max-age=60&cookie=1", "cc=max-age=60&vary=*", ""],
)
async def test_what_a_shared_cache_must_not_store_goes_to_the_origin_every_time(query: str) -> None:
    async with cached() as (base, origin, session, _):
        for _ in range(2):
            assert (await get(session, f"{base}/a?{query}"))[2]["X-Cache"] == "MISS"
    assert origin.calls == 2


@pytest.mark.parametrize(
    ("cc", "stored"),
    [("max-age=60", False), ("public, max-age=60", True), ("s-maxage=60", True)],
)
async def test_a_response_to_an_authorized_request_is_stored_only_when_it_says_so(
    cc: str, stored: bool
) -> None:
    async with cached() as (base, origin, session, _):
        for _ in range(2):
            await get(session, f"{base}/a?cc={cc}", Authorization="Bearer t")
    assert origin.calls == (1 if stored else 2)


async def test_if_none_match_is_answered_304_from_the_cache() -> None:
    async with cached() as (base, origin, session, _):
        url = f'{base}/a?cc=max-age=60&etag="v1"'
        await get(session, url)
        status, body, headers = await get(session, url, **{"If-None-Match": 'W/"v0", "v1"'})
        other = await get(session, url, **{"If-None-Match": '"v0"'})
    assert origin.calls == 1
    assert (status, body, headers["ETag"], headers["X-Cache"]) == (304, b"", '"v1"', "HIT")
    assert other[0] == 200


async def test_a_stale_entry_is_revalidated_with_its_etag_and_refreshed_on_304() -> None:
    async with cached() as (base, origin, session, clock):
        url = f'{base}/a?cc=max-age=10&etag="v1"'
        first = await get(session, url)
        clock.advance(11)
        again = await get(session, url)
        clock.advance(5)  # the 304 made it fresh for another 10 s
        hit = await get(session, url)
    assert origin.calls == 2
    assert origin.seen[1][b"if-none-match"] == b'"v1"'
    assert (again[0], again[1], again[2]["X-Cache"]) == (200, first[1], "REVALIDATED")
    assert (hit[1], hit[2]["X-Cache"], hit[2]["Age"]) == (first[1], "HIT", "5")


async def test_no_cache_responses_and_requests_are_revalidated_every_time() -> None:
    async with cached() as (base, origin, session, _):
        url = f'{base}/a?cc=no-cache, max-age=60&etag="v1"'
        await get(session, url)
        assert (await get(session, url))[2]["X-Cache"] == "REVALIDATED"
        fresh = f'{base}/b?cc=max-age=60&etag="v2"'
        await get(session, fresh)
        asked = await get(session, fresh, **{"Cache-Control": "no-cache"})
        bypass = await get(session, fresh, **{"Cache-Control": "no-store"})
    assert asked[2]["X-Cache"] == "REVALIDATED"
    assert bypass[2]["X-Cache"] == "BYPASS"
    assert origin.calls == 5


async def test_vary_keeps_one_variant_per_value_of_the_named_headers() -> None:
    async with cached() as (base, origin, session, _):
        url = f"{base}/a?cc=max-age=60&vary=Accept-Language"
        en = await get(session, url, **{"Accept-Language": "en"})
        fr = await get(session, url, **{"Accept-Language": "fr"})
        en_again = await get(session, url, **{"Accept-Language": "en"})
        fr_again = await get(session, url, **{"Accept-Language": "fr"})
    assert origin.calls == 2
    assert en[1] != fr[1]
    assert (en_again[1], fr_again[1]) == (en[1], fr[1])
    assert en_again[2]["X-Cache"] == fr_again[2]["X-Cache"] == "HIT"


async def test_the_store_is_bounded_by_entries_and_bytes_least_recently_used_first() -> None:
    async with cached(max_entries=2, max_entry_bytes=500) as (base, _, session, _):
        cc = "cc=max-age=60"
        for path in ("a", "b", "a", "c"):  # c evicts b, the least recently used
            await get(session, f"{base}/{path}?{cc}")
        assert (await get(session, f"{base}/a?{cc}"))[2]["X-Cache"] == "HIT"
        assert (await get(session, f"{base}/b?{cc}"))[2]["X-Cache"] == "MISS"
        big = f"{base}/big?{cc}&size=600"
        await get(session, big)
        assert (await get(session, big))[2]["X-Cache"] == "MISS"
    async with cached(max_bytes=1000) as (base, _, session, _):
        for path in ("a", "b", "c"):
            await get(session, f"{base}/{path}?cc=max-age=60&size=400")
        assert (await get(session, f"{base}/a?cc=max-age=60&size=400"))[2]["X-Cache"] == "MISS"
        assert (await get(session, f"{base}/c?cc=max-age=60&size=400"))[2]["X-Cache"] == "HIT"


async def test_a_successful_unsafe_request_invalidates_the_stored_url() -> None:
    async with cached() as (base, origin, session, _):
        url = f"{base}/a?cc=max-age=60"
        await get(session, url)
        await get(session, url, "POST")
        assert (await get(session, url))[2]["X-Cache"] == "MISS"
    assert origin.calls == 3
