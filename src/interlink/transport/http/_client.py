"""The calling side of HTTP: one pooled keep-alive aiohttp session per running App."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlink._envelope import Envelope
from interlink._envelope_http import to_headers
from interlink._errors import CallError, DeadlineExceeded, ServiceUnavailable
from interlink._timer import timeout_after
from interlink._wire import Outcome

if TYPE_CHECKING:
    from interlink.transport.http._pool import Pool

__all__ = ["CLIENT_KEEPALIVE", "SERVER_KEEPALIVE", "HttpClient"]

SERVER_KEEPALIVE = 5.0
"""Seconds :class:`HttpServer` keeps an idle connection open (``timeout_keep_alive`` there)."""
CLIENT_KEEPALIVE = 4.0
"""Seconds :class:`HttpClient` keeps an idle pooled connection before it closes it itself."""
# Invariant: CLIENT_KEEPALIVE < SERVER_KEEPALIVE. The client must let go of an idle connection
# before the server closes it; otherwise a call can go out on a connection the server is
# closing at that moment, and fail with a reset. The margin covers two loops' timer skew.


class HttpClient:
    """POSTs envelopes in binary mode to ``/rpc/{service}/{method}``.

    A refused connection is :class:`ServiceUnavailable` (the request was provably not
    processed); a connection lost mid-call is a plain :class:`CallError` (it may have been).
    One exception: a pooled connection the server had closed while it was idle (see
    ``_pool.lost_while_idle``) is not a lost call; the request goes again, once, on a fresh
    connection, within the same timeout.
    The pool (and aiohttp itself, ~25 MB) is created on the first remote call, so an App
    whose calls all stay in-process never pays for it.
    """

    def __init__(self, *, max_connections: int = 512, keepalive: float = CLIENT_KEEPALIVE) -> None:
        self._max_connections = max_connections
        self._keepalive = keepalive
        self._pool: Pool | None = None

    async def open(self) -> None:
        """Nothing to do until the first call; kept so the lifecycle reads symmetrically."""

    def _connect(self) -> Pool:
        from interlink.transport.http._pool import Pool

        self._pool = Pool(max_connections=self._max_connections, keepalive=self._keepalive)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def send(
        self,
        base_url: str,
        service: str,
        method: str,
        envelope: Envelope,
        body: bytes,
        timeout: float | None,
    ) -> Outcome:
        """POST one call. ``timeout`` None means the caller already bounds the attempt (a
        policy's timer): arming a second timer for the same deadline costs ~5 µs a call."""
        import aiohttp

        pool = self._pool or self._connect()
        url = f"{base_url}/rpc/{service}/{method}"
        headers = to_headers(envelope)
        try:
            if timeout is None:
                return await pool.post(url, body, headers)
            async with timeout_after(timeout):
                return await pool.post(url, body, headers)
        except TimeoutError:
            raise DeadlineExceeded(
                f"{service}.{method} at {base_url} did not answer in time"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise ServiceUnavailable(
                f"cannot connect to {service} at {base_url}: {exc.os_error}"
            ) from exc
        except aiohttp.ClientError as exc:
            raise CallError(f"{service}.{method} at {base_url} failed mid-call: {exc}") from exc
