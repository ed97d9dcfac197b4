"""The calling side of the socket transport: a few multiplexed connections per address.

Errors mean what they mean on HTTP: a refused connection is :class:`ServiceUnavailable` (the
request provably did not run), a connection lost mid-call a plain :class:`CallError` (it may
have run), a call past its timeout :class:`DeadlineExceeded` (and the server is told to cancel
its handler).
"""

from __future__ import annotations

import ssl as ssl_module
from typing import TYPE_CHECKING

from interlink._errors import CallError, DeadlineExceeded, ServiceUnavailable
from interlink._streaming import StreamFailed
from interlink._timer import timeout_after
from interlink.transport.socket._connection import Lost, ResponseTooLarge
from interlink.transport.socket._frame import STREAM_ITEM
from interlink.transport.socket._peer import ConnectFailed, Peer, PeerSettings
from interlink.transport.socket._streaming import end_outcome

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from interlink._envelope import Envelope
    from interlink._wire import Outcome

__all__ = ["SocketClient"]

_MAX_PEERS = 1024


class SocketClient:
    """Sends calls to ``tcp://host:port`` or ``unix:///path`` addresses.

    Per address it keeps up to ``connections`` connections, each carrying up to
    ``max_streams`` calls at once; a call beyond that waits (within its timeout) for a stream
    to free. An answer over ``max_frame`` bytes is refused. ``ssl`` wraps every connection.
    """

    def __init__(
        self,
        *,
        connections: int = 1,
        max_streams: int = 256,
        max_frame: int = 64 << 20,
        connect_timeout: float = 5.0,
        ping_after: float = 5.0,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        if connections < 1 or max_streams < 1:
            raise ValueError("connections and max_streams must be at least 1")
        self._settings = PeerSettings(
            connections=connections,
            max_streams=max_streams,
            max_frame=max_frame,
            connect_timeout=connect_timeout,
            ping_after=ping_after,
            ssl=ssl,
        )
        self._peers: dict[str, Peer] = {}

    async def open(self) -> None:
        """Nothing to do until the first call; kept so the lifecycle reads symmetrically."""

    async def __aenter__(self) -> SocketClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        peers, self._peers = self._peers, {}
        for peer in peers.values():
            peer.close()

    async def send(
        self,
        address: str,
        service: str,
        method: str,
        envelope: Envelope,
        body: bytes,
        timeout: float | None,
    ) -> Outcome:
        """One call. ``timeout`` None: the caller bounds the attempt itself (a policy's timer)."""
        peer = self._peers.get(address)
        if peer is None:
            peer = self._peer(address)
        try:
            if timeout is None:
                return await peer.call(service, method, envelope, body)
            async with timeout_after(timeout):
                return await peer.call(service, method, envelope, body)
        except TimeoutError:
            raise DeadlineExceeded(
                f"{service}.{method} at {address} did not answer in time"
            ) from None
        except ConnectFailed as exc:
            raise ServiceUnavailable(f"cannot connect to {service} at {address}: {exc}") from exc
        except (Lost, ResponseTooLarge) as exc:
            raise CallError(f"{service}.{method} at {address} failed mid-call: {exc}") from exc

    async def stream(
        self, address: str, service: str, method: str, envelope: Envelope, body: bytes
    ) -> AsyncIterator[bytes]:
        """The encoded items of one streaming call; raises :class:`StreamFailed` with the
        callee's error. Closing it before the end cancels the call on the server."""
        peer = self._peers.get(address)
        if peer is None:
            peer = self._peer(address)
        frames = peer.stream(service, method, envelope, body)
        try:
            async for frame in frames:
                if frame.oversized:
                    raise CallError(f"{service}.{method} sent a frame over the limit")
                if frame.kind == STREAM_ITEM:
                    yield frame.body
                    continue
                failure = end_outcome(frame)
                if failure is not None:
                    raise StreamFailed(failure)
        except ConnectFailed as exc:
            raise ServiceUnavailable(f"cannot connect to {service} at {address}: {exc}") from exc
        except Lost as exc:
            raise CallError(f"{service}.{method} at {address} failed mid-stream: {exc}") from exc
        finally:
            await frames.aclose()  # type: ignore[attr-defined]

    def _peer(self, address: str) -> Peer:
        try:
            peer = Peer(address, self._settings)
        except Exception as exc:
            raise CallError(f"cannot call {address!r}: {exc}") from None
        if len(self._peers) >= _MAX_PEERS:
            oldest = next(iter(self._peers))
            self._peers.pop(oldest).close()
        self._peers[address] = peer
        return peer
