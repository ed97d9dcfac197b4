"""The identity headers an auth middleware sets on the upstream request.

Invariant: a client can never choose these headers itself; every incoming copy is removed
before the authenticated values are added.
"""

from __future__ import annotations

from collections.abc import Iterable

from interlink.gateway._identity import Identity

__all__ = ["FORWARDED", "forward_headers"]

SUBJECT = b"x-interlink-subject"
SCOPES = b"x-interlink-scopes"
FORWARDED = frozenset({SUBJECT, SCOPES})

Header = tuple[bytes, bytes]


def forward_headers(
    headers: Iterable[Header],
    identity: Identity,
    strip: frozenset[bytes],
    extra: Iterable[Header] = (),
) -> list[Header]:
    """``headers`` without any in ``strip``, plus the subject, scopes and ``extra``."""
    kept = [(name, value) for name, value in headers if name not in strip]
    subject = identity.subject
    if subject.isascii() and subject.isprintable():
        kept.append((SUBJECT, subject.encode("ascii")))
    kept.append((SCOPES, " ".join(sorted(identity.scopes)).encode("latin-1", "replace")))
    kept.extend(extra)
    return kept
