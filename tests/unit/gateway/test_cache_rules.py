"""The cache's RFC 9111 rules and its memory, without sockets."""

from __future__ import annotations

import pytest

from interlink.gateway._cache_control import directives, etag_matches, freshness, storable
from interlink.gateway._cache_store import MAX_VARIANTS, CacheStore, Entry


def entry(vary: bytes | None = None, body: bytes = b"x") -> Entry:
    return Entry(
        status=200,
        headers=[],
        body=body,
        stored_at=0.0,
        age=0.0,
        lifetime=60.0,
        etag=None,
        revalidate=False,
        vary=((b"accept-language", vary),),
    )


def test_directives_parse_arguments_quotes_and_case() -> None:
    assert directives(b'Max-Age="60", private, S-MAXAGE=5') == {
        "max-age": "60",
        "private": None,
        "s-maxage": "5",
    }
    assert freshness(directives(b"max-age=60, s-maxage=5")) == 5.0
    assert freshness(directives(b"max-age=soon")) is None


@pytest.mark.parametrize(
    ("status", "cc", "headers", "authorized", "expected"),
    [
        (200, b"max-age=60", {}, False, True),
        (500, b"max-age=60", {}, False, False),
        (404, b"max-age=60", {}, False, True),
        (200, b"", {}, False, False),
        (200, b"public", {}, False, False),
        (200, b"no-cache, max-age=60", {}, False, False),
        (200, b"no-cache, max-age=60", {b"etag": b'"a"'}, False, True),
        (200, b"must-revalidate, max-age=60", {}, True, True),
    ],
)
def test_storable(
    status: int, cc: bytes, headers: dict[bytes, bytes], authorized: bool, expected: bool
) -> None:
    assert storable(status, directives(cc), headers, authorized) is expected


def test_etag_comparison_is_weak_and_takes_lists_and_star() -> None:
    assert etag_matches(b'W/"a"', b'"a"')
    assert etag_matches(b'"b", W/"a"', b'W/"a"')
    assert etag_matches(b"*", b'"z"')
    assert not etag_matches(b'"b"', b'"a"')


def test_a_url_keeps_at_most_max_variants_and_the_newest_win() -> None:
    store = CacheStore(max_entries=100, max_bytes=1 << 20)
    for i in range(MAX_VARIANTS + 2):
        store.put(b"u", entry(str(i).encode()))
    assert store.entries == MAX_VARIANTS
    assert store.lookup(b"u", {b"accept-language": b"0"}) is None
    assert store.lookup(b"u", {b"accept-language": b"1"}) is None
    assert store.lookup(b"u", {b"accept-language": b"9"}) is not None
    store.put(b"u", entry(b"9", body=b"new"))  # same Vary values: replaced, not added
    found = store.lookup(b"u", {b"accept-language": b"9"})
    assert found is not None
    assert found.body == b"new"
    assert store.entries == MAX_VARIANTS
    store.invalidate(b"u")
    assert (store.entries, store.bytes) == (0, 0)
