"""What the HTTP server is told: where to listen, how long to wait on a client, what to name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from interlink._http import DEFAULT_HTTP_TIMEOUTS, HttpTimeouts, as_seconds

if TYPE_CHECKING:
    from interlink.transport._tls import Tls

__all__ = ["MAX_HEAD_SIZE", "HttpSettings", "HttpTimeouts", "as_seconds"]

MAX_HEAD_SIZE = 64 * 1024
"""Bytes a request line and its headers may take; a larger head is answered 431."""


@dataclass(frozen=True, kw_only=True, slots=True)
class HttpSettings:
    host: str
    port: int
    max_body_size: int
    drain_timeout: float
    title: str
    version: str
    timeouts: HttpTimeouts = DEFAULT_HTTP_TIMEOUTS
    tls: Tls | None = None
    """Serve HTTPS with mutual TLS (a client certificate signed by its CA is required)."""
