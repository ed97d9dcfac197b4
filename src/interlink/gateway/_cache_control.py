"""The parts of RFC 9111 the gateway cache applies: directives, storability, freshness."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["directives", "etag_matches", "freshness", "storable"]

Headers = Mapping[bytes, bytes]

CACHEABLE_STATUS = frozenset({200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501})
"""Statuses stored when the response gives an explicit lifetime (RFC 9110 §15.1 lists them)."""


def directives(value: bytes | None) -> dict[str, str | None]:
    """``Cache-Control`` as a dict: ``max-age=60, private`` -> ``{"max-age": "60", "private": None}``."""
    found: dict[str, str | None] = {}
    if not value:
        return found
    for part in value.decode("latin-1").split(","):
        name, eq, argument = part.strip().partition("=")
        if name:
            found[name.lower()] = argument.strip().strip('"') if eq else None
    return found


def seconds(value: str | None) -> float | None:
    """A delta-seconds argument; None when absent or not a number."""
    if value is None or not value.isdigit():
        return None
    return float(value)


def freshness(response: Mapping[str, str | None]) -> float | None:
    """The lifetime a shared cache gives a response: ``s-maxage``, else ``max-age``, else None
    (no heuristic freshness: a response without an explicit lifetime is not stored)."""
    shared = seconds(response.get("s-maxage"))
    return shared if shared is not None else seconds(response.get("max-age"))


def storable(
    status: int,
    response: Mapping[str, str | None],
    headers: Headers,
    authorized: bool,
) -> bool:
    """Whether a shared cache may store this response to a GET (RFC 9111 §3, §3.5)."""
    if status not in CACHEABLE_STATUS or "no-store" in response or "private" in response:
        return False
    if freshness(response) is None or b"set-cookie" in headers:
        return False
    if headers.get(b"vary", b"").strip() == b"*":
        return False
    if "no-cache" in response and b"etag" not in headers:
        return False  # it would have to be revalidated on every use, and cannot be
    if authorized:
        return "public" in response or "s-maxage" in response or "must-revalidate" in response
    return True


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """``If-None-Match`` against an entity tag, by weak comparison (RFC 9110 §13.1.2)."""
    if if_none_match.strip() == b"*":
        return True
    wanted = etag.removeprefix(b"W/").strip()
    return any(tag.strip().removeprefix(b"W/") == wanted for tag in if_none_match.split(b","))
