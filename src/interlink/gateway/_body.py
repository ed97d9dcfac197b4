"""The client's request body as the proxy reads it: one message kept whole (it can be sent
again), or a stream of pieces passed on as they come (it cannot), never past the route's
limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.types import Receive, Scope

__all__ = ["BodyTooLarge", "ClientGone", "RequestBody", "empty_body"]


class BodyTooLarge(Exception):
    """The body is longer than the route allows (answered 413)."""


class ClientGone(Exception):
    """The client disconnected before its body was in."""


class RequestBody:
    __slots__ = ("_first", "_limit", "_receive", "_size", "consumed", "length", "whole")

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self._size = 0
        self.whole: bytes | None = None
        """The entire body, once it came as one message."""
        self.length: int | None = None
        """What to declare upstream: the length, or None for chunked."""
        self.consumed = False
        self._first = b""
        """Streamed pieces were handed out: the body cannot be sent again."""

    @classmethod
    async def read(cls, scope: Scope, receive: Receive, limit: int) -> RequestBody:
        """Check the declared length, then take the first message."""
        body = cls(receive, limit)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            raise BodyTooLarge(f"the body declares {declared} bytes; this route takes {limit}")
        first = await body._next()
        if first[1]:
            body._first = first[0]
            body.length = declared
        else:
            body.whole = first[0]
            body.length = len(first[0])
        return body

    @property
    def replayable(self) -> bool:
        return self.whole is not None or not self.consumed

    async def pieces(self) -> AsyncIterator[bytes]:
        """The body's pieces (streamed ones only once)."""
        if self.whole is not None:
            if self.whole:
                yield self.whole
            return
        if self.consumed:
            raise RuntimeError("a streamed body cannot be sent twice")
        self.consumed = True
        data, more = self._first, True
        while True:
            if data:
                yield data
            if not more:
                return
            data, more = await self._next()

    async def _next(self) -> tuple[bytes, bool]:
        message = await self._receive()
        if message["type"] == "http.disconnect":
            raise ClientGone("the client went away while sending its body")
        data: bytes = message.get("body", b"")
        self._size += len(data)
        if self._size > self._limit:
            raise BodyTooLarge(f"the body is over this route's {self._limit} bytes")
        return data, bool(message.get("more_body", False))


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _nothing() -> dict[str, object]:
    raise RuntimeError("an empty body has nothing to receive")


def empty_body() -> RequestBody:
    """No body at all (an aggregation part's GET)."""
    body = RequestBody(_nothing, 0)
    body.whole, body.length = b"", 0
    return body
