"""How a (scope, message id) pair is stored: as itself when it fits, hashed whole when not."""

from __future__ import annotations

import hashlib

__all__ = ["MAX_KEY_BYTES", "claim_keys", "inbox_key"]

MAX_KEY_BYTES = 255
"""Longer values are hashed: PostgreSQL refuses index entries of more than ~2.7 kB."""

_HASHED = "sha256:"


def inbox_key(value: str, what: str) -> str:
    """``value`` as the inbox stores it: itself, or ``sha256:<hex>`` of all of it.

    Invariant: distinct values never share a stored key (short of a SHA-256 collision), and
    nothing is ever truncated. A value is stored as itself only when it is at most
    :data:`MAX_KEY_BYTES` UTF-8 bytes, holds no NUL (PostgreSQL text cannot) and does not
    itself start with ``sha256:``; every other value is hashed, so a short value that looks
    like a hash can never meet the hash of a long one.
    """
    if not isinstance(value, str):
        raise TypeError(f"the inbox {what} must be a string, not {value!r}")
    try:
        raw = value.encode()
        plain = len(raw) <= MAX_KEY_BYTES and "\x00" not in value
    except UnicodeEncodeError:  # lone surrogates: no database text column can hold them
        raw, plain = value.encode("utf-8", "surrogatepass"), False
    if plain and not value.startswith(_HASHED):
        return value
    return _HASHED + hashlib.sha256(raw).hexdigest()


def claim_keys(scope: str, message_id: str) -> tuple[str, str]:
    """The stored (scope, id) pair; an empty id is refused (it would make every message one)."""
    if message_id == "":
        raise ValueError("an empty message id cannot be recorded in the inbox")
    return inbox_key(scope, "scope"), inbox_key(message_id, "message id")
