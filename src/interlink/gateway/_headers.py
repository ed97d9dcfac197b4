"""Headers across the proxy: hop-by-hop ones stop here (RFC 9110 §7.6.1), the X-Forwarded-*
family and ``traceparent`` are set, and the request head is written for the upstream."""

from __future__ import annotations

from collections.abc import Iterable
from random import getrandbits

from starlette.types import Scope

from interlink._tracecontext import parse_traceparent

__all__ = ["HOP_BY_HOP", "request_head", "response_headers"]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set by the gateway itself; a client's own values are replaced (host) or extended (xff).
_OWN = frozenset({b"host", b"content-length", b"x-forwarded-for", b"x-forwarded-proto"})
_OWN |= frozenset({b"x-forwarded-host", b"traceparent"})
_DROP = HOP_BY_HOP | _OWN


def _named_by_connection(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(token.strip().lower() for token in value.split(b","))
    return frozenset(named)


def request_head(scope: Scope, method: str, target: str, netloc: str, length: int | None) -> bytes:
    """The upstream request's head. ``length`` None: the body follows chunked."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    drop = _DROP
    for name, _ in headers:
        if name == b"connection":  # ASGI header names are lower-case
            drop = _DROP | _named_by_connection(headers)
            break
    lines = [f"{method} {target} HTTP/1.1\r\nhost: {netloc}\r\n".encode("latin-1")]
    forwarded_for = host = traceparent = b""
    for name, value in headers:
        lower = name.lower()
        if lower not in drop:
            lines.append(b"%s: %s\r\n" % (name, value))
        elif lower == b"x-forwarded-for":
            forwarded_for = value
        elif lower == b"host":
            host = value
        elif lower == b"traceparent":
            traceparent = value
    client = scope.get("client")
    address = (client[0] if client else "unknown").encode("latin-1")
    forwarded_for = forwarded_for + b", " + address if forwarded_for else address
    scheme = scope.get("scheme", "http")
    proto = _PROTO.get(scheme) or b"x-forwarded-proto: %s\r\n" % scheme.encode("latin-1")
    lines.append(b"x-forwarded-for: %s\r\n%s" % (forwarded_for, proto))
    if host:
        lines.append(b"x-forwarded-host: %s\r\n" % host)
    lines.append(b"traceparent: %s\r\n" % _trace(traceparent))
    if length is None:
        lines.append(b"transfer-encoding: chunked\r\n\r\n")
    elif length or method not in _NO_BODY:
        lines.append(b"content-length: %d\r\n\r\n" % length)
    else:
        lines.append(b"\r\n")
    return b"".join(lines)


_PROTO = {"http": b"x-forwarded-proto: http\r\n", "https": b"x-forwarded-proto: https\r\n"}
_NO_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


def _trace(given: bytes) -> bytes:
    if given and parse_traceparent(given.decode("latin-1")) is not None:
        return given
    return _new_traceparent()


def _new_traceparent() -> bytes:
    """A new sampled trace, like ``new_traceparent`` but from the ``random`` generator rather
    than the system's (one system call less per request; trace ids need to be unique, not
    secret). An all-zero id is invalid, hence the ``or 1``."""
    return b"00-%032x-%016x-01" % (getrandbits(128) or 1, getrandbits(64) or 1)


def response_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The upstream answer's headers without the hop-by-hop ones (names lower-cased)."""
    kept: list[tuple[bytes, bytes]] = []
    named: frozenset[bytes] = frozenset()
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            if lower == b"connection":
                named |= _named_by_connection(((lower, value),))
            continue
        kept.append((lower, value))
    if named:
        return [(name, value) for name, value in kept if name not in named]
    return kept
