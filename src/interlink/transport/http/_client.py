"""The calling side of HTTP: one pool of keep-alive connections per running App."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import msgspec

from interlink._envelope import Envelope
from interlink._envelope_http import to_headers
from interlink._errors import CallError, DeadlineExceeded, ServiceUnavailable
from interlink._streaming import StreamFailed
from interlink._timer import timeout_after
from interlink._wire import Outcome
from interlink.transport.http._connection import MAX_RESPONSE, Lost
from interlink.transport.http._pool import ConnectFailed, Origin, Pool
from interlink.transport.http._stream_client import LineReader, StreamLost
from interlink.transport.http._streams import NDJSON

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

    The requests are written by hand and the answers parsed by httptools: a call costs a
    quarter of the CPU aiohttp's generic request machinery takes (benchmarks/rpc_http.py).
    """

    def __init__(
        self,
        *,
        max_connections: int = 512,
        keepalive: float = CLIENT_KEEPALIVE,
        max_response: int = MAX_RESPONSE,
    ) -> None:
        self._max_connections = max_connections
        self._keepalive = keepalive
        self._max_response = max_response
        self._pool: Pool | None = None
        self._origins: dict[str, tuple[Origin, str]] = {}

    async def open(self) -> None:
        """Nothing to do until the first call; kept so the lifecycle reads symmetrically."""

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
        policy's timer): arming a second timer for the same deadline costs a call time."""
        pool = self._pool
        if pool is None:
            pool = self._pool = Pool(
                max_connections=self._max_connections,
                keepalive=self._keepalive,
                max_response=self._max_response,
            )
        found = self._origins.get(base_url)
        origin, host = found if found is not None else self._origin(base_url)
        request = _request(f"/rpc/{service}/{method}", host, to_headers(envelope), body)
        try:
            if timeout is None:
                return await pool.post(origin, request)
            async with timeout_after(timeout):
                return await pool.post(origin, request)
        except TimeoutError:
            raise DeadlineExceeded(
                f"{service}.{method} at {base_url} did not answer in time"
            ) from None
        except ConnectFailed as exc:
            raise ServiceUnavailable(f"cannot connect to {service} at {base_url}: {exc}") from exc
        except Lost as exc:
            raise CallError(f"{service}.{method} at {base_url} failed mid-call: {exc}") from exc

    async def stream(
        self, base_url: str, service: str, method: str, envelope: Envelope, body: bytes
    ) -> AsyncIterator[bytes]:
        """POST a streaming call on a connection of its own; yield each encoded item as its
        line arrives. Raises :class:`StreamFailed` with the callee's error. Closing this
        iterator before the end aborts the connection, which stops the handler."""
        origin, host = self._origin(base_url)
        headers = to_headers(envelope)
        headers["accept"] = NDJSON
        request = _request(f"/rpc/{service}/{method}", host, headers, body)
        name, port, tls = origin
        loop = asyncio.get_running_loop()
        try:
            _, reader = await loop.create_connection(
                lambda: LineReader(self._max_response),
                name,
                port,
                ssl=ssl.create_default_context() if tls else None,
            )
        except OSError as exc:
            raise ServiceUnavailable(f"cannot connect to {service} at {base_url}: {exc}") from exc
        try:
            reader.send(request)
            status = await reader.status()
            if status != 200:
                raise StreamFailed(Outcome(status, await reader.whole()))
            if not reader.content_type.startswith(NDJSON.encode()):
                raise CallError(f"{service}.{method} is not a streaming RPC: use call()")
            while (line := await reader.line()) is not None:
                parsed = _LINE.decode(line)
                if parsed.error:
                    error = b'{"error":' + bytes(parsed.error) + b"}"
                    raise StreamFailed(Outcome(parsed.status, error))
                if parsed.result:
                    yield bytes(parsed.result)
        except StreamLost as exc:
            raise CallError(f"{service}.{method} at {base_url} failed mid-stream: {exc}") from exc
        except msgspec.DecodeError as exc:
            raise CallError(f"{service}.{method} at {base_url}: a bad stream line: {exc}") from exc
        finally:
            reader.close()

    def _origin(self, base_url: str) -> tuple[Origin, str]:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CallError(f"cannot call {base_url!r}: not an http:// or https:// address")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        found = ((parts.hostname, port, tls), parts.netloc)
        if len(self._origins) < 10_000:
            self._origins[base_url] = found
        return found


class _Line(msgspec.Struct):
    result: msgspec.Raw = msgspec.Raw()
    error: msgspec.Raw = msgspec.Raw()
    status: int = 500


_LINE = msgspec.json.Decoder(_Line)


def _request(path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{name}: {value}\r\n" for name, value in headers.items()]
    head = f"POST {path} HTTP/1.1\r\nhost: {host}\r\n{''.join(lines)}content-length: {len(body)}"
    breaks = len(lines) + 2  # the request line's, the host's and one per header
    if head.count("\n") != breaks or head.count("\r") != breaks:
        raise CallError("a header value holds a line break")
    try:
        return f"{head}\r\n\r\n".encode("latin-1") + body
    except UnicodeEncodeError:
        raise CallError("header values must be Latin-1") from None
