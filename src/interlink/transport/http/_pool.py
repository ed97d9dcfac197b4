"""The client's connection pool, and the one failure of a pooled connection worth repeating.

A keep-alive connection can be closed by the server while it sits idle in the pool (its
keep-alive ran out, or it is draining to stop). When that close crosses our next request on the
wire, the request meets a FIN or a RST instead of an answer. Keeping the client's keep-alive
below the server's makes this rare; :func:`lost_while_idle` recognises what is left, so the
caller can send the request once more on a fresh connection.

Imported on the first remote call only (it imports aiohttp).
"""

from __future__ import annotations

import errno
import weakref
from contextvars import ContextVar
from typing import TYPE_CHECKING

import aiohttp

from interlink._wire import Outcome

if TYPE_CHECKING:
    from aiohttp.client_proto import ResponseHandler
    from aiohttp.client_reqrep import ClientRequest
    from aiohttp.connector import Connection
    from aiohttp.tracing import Trace

__all__ = ["Pool", "lost_while_idle"]

# What a write into, or a read from, a connection the peer had already closed meets.
_RESETS = frozenset({errno.ECONNRESET, errno.EPIPE})

# Whether the connection of the calling task's request came out of the pool. A request runs
# connect() in the caller's own task, so the caller reads what its connect() set.
_reused: ContextVar[bool] = ContextVar("interlink_http_reused", default=False)


class Pool:
    """One pooled keep-alive aiohttp session; :meth:`post` repeats a request lost while idle."""

    def __init__(self, *, max_connections: int, keepalive: float) -> None:
        self._session = _session(_Connector(limit=max_connections, keepalive_timeout=keepalive))

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        _reused.set(False)
        try:
            return await _post(self._session, url, body, headers)
        except aiohttp.ClientError as exc:
            if not lost_while_idle(exc):
                raise
        # The one retry, on a connection of its own: another pooled one may be just as stale.
        async with _session(aiohttp.TCPConnector(force_close=True)) as fresh:
            return await _post(fresh, url, body, headers)

    async def close(self) -> None:
        await self._session.close()


class _Connector(aiohttp.TCPConnector):
    """aiohttp's pooled connector, noting for each request whether its connection is reused."""

    def __init__(self, *, limit: int, keepalive_timeout: float) -> None:
        super().__init__(limit=limit, keepalive_timeout=keepalive_timeout, ttl_dns_cache=60)
        self._handed_out: weakref.WeakSet[ResponseHandler] = weakref.WeakSet()

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        connection = await super().connect(req, traces, timeout)
        protocol = connection.protocol
        if protocol is not None:  # aiohttp hands out live connections only
            _reused.set(protocol in self._handed_out)
            self._handed_out.add(protocol)
        return connection


def lost_while_idle(exc: BaseException) -> bool:
    """Whether ``exc`` is a connection taken from the pool that the server had already given
    up: closed before a byte of the answer came back, or reset before the answer's head did.

    A retry of this case rests on one assumption: a server that has read a request answers
    it before it closes the connection, unless it dies (uvicorn closes a keep-alive connection
    only while no request is in it). A server killed after running the handler and before
    writing its answer looks the same from here, and so (aiohttp does not say how much of the
    head had arrived before a reset) does one killed halfway through writing the head; that
    is the risk this one retry takes, the one browsers take when they resend a POST.
    """
    if not _reused.get():
        return False
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        # aiohttp puts the partly parsed answer in ``message``; a str means none arrived.
        return isinstance(exc.message, str)
    return isinstance(exc, aiohttp.ClientOSError) and exc.errno in _RESETS


def _session(connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, connect=None, sock_read=None),
        auto_decompress=False,
    )


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> Outcome:
    async with session.post(url, data=body, headers=headers) as response:
        return Outcome(response.status, await response.read())
