"""uvicorn's httptools protocol, with the limits it lacks on a slow or hostile client.

uvicorn bounds only the idle time between two requests (``timeout_keep_alive``). A connection
that never finishes its request head, or trickles its body, is held for ever: a few thousand of
them (slowloris) exhaust the server. This protocol adds, per connection:

- a **head timer**, from the connection's first moment (or a next request's first byte) until
  the head is complete: a head that started is answered 408, a connection that never sent a
  byte is closed;
- a **head size limit** (431);
- a **body timer**, from the end of the head until the body is complete: 408 while the app is
  reading the body (a handler that did not ask for the body is let finish, then the connection
  closes);
- at **shutdown**, a request whose body is still arriving is answered 503 at once (its handler
  never started) instead of holding the drain;
- the JSON error body for the errors it answers itself (uvicorn's own 400 is plain text).

Invariant: a timer is armed only in the ``HEAD`` and ``BODY`` states and disarmed on leaving
them, so at most one is pending per connection.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import socket
from typing import Any, ClassVar, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from interlink._envelope import new_id
from interlink.transport.http._asgi import (
    CLIENT_GONE,
    CORRELATION_HEADER,
    READING_BODY,
    RPC_TASK,
    error_body,
)
from interlink.transport.http._settings import MAX_HEAD_SIZE, HttpTimeouts, as_seconds

__all__ = ["GuardedProtocol", "guarded_protocol"]

log = logging.getLogger("interlink")

_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


class _State(enum.Enum):
    HEAD = "head"  # waiting for, or reading, a request head (the head timer runs)
    BODY = "body"  # the head is complete, the body is not (the body timer runs)
    REST = "rest"  # a whole request is in; its answer, then keep-alive, are uvicorn's business


class GuardedProtocol(HttpToolsProtocol):
    """See the module docstring. One subclass per server carries its timeouts."""

    head_timeout: ClassVar[float] = 10.0
    body_timeout: ClassVar[float] = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._state = _State.HEAD
        self._started = False  # a byte of the current request head has arrived
        self._head_bytes = 0
        self._timer: asyncio.TimerHandle | None = None

    # -- uvicorn's hooks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # The listening socket comes from socket.create_server (protocol number 0), so asyncio
        # leaves Nagle on for accepted connections: a keep-alive answer then waits ~40 ms for
        # the client's delayed ACK.
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._arm(self.head_timeout, self._head_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The client left before its answer was complete: stop the RPC working for it.
            scope = cast(dict[str, Any], cycle.scope)
            task = scope.pop(RPC_TASK, None)
            if task is not None and not task.done():
                scope[CLIENT_GONE] = True
                task.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._state is _State.HEAD and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_SIZE:
                self._refuse(431, "HeadersTooLarge", f"request head over {MAX_HEAD_SIZE} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._started = True
        if self._state is not _State.HEAD:
            self._state, self._head_bytes = _State.HEAD, 0
            self._arm(self.head_timeout, self._head_expired)

    def on_headers_complete(self) -> None:
        self._state = _State.BODY
        self._arm(self.body_timeout, self._body_expired)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._state, self._started = _State.REST, False
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "BadRequest", msg)

    def shutdown(self) -> None:
        cycle = self.cycle
        waiting = cycle is not None and not cycle.response_started and cycle.scope.get(READING_BODY)
        if self._state is _State.BODY and waiting:
            self._refuse(503, "ServiceUnavailable", "the server is shutting down")
            return
        super().shutdown()

    # -- timers ------------------------------------------------------------------------------

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._started:
            self._refuse(408, "RequestTimeout", "the request head did not arrive in time")
        else:
            self.transport.close()  # it never asked for anything: nobody to answer

    def _body_expired(self) -> None:
        self._timer = None
        cycle = self.cycle
        if self.transport.is_closing() or cycle is None:
            return
        if not cycle.response_started and cycle.scope.get(READING_BODY):
            self._refuse(408, "RequestTimeout", "the request body did not arrive in time")
        elif cycle.response_complete:
            self.transport.close()
        else:  # its handler runs without the body: let it answer, then close
            cycle.keep_alive = False

    # -- answers of its own -------------------------------------------------------------------

    def _refuse(self, status: int, type_name: str, message: str) -> None:
        """Answer with the JSON error body and close; the app, if it runs, sees a disconnect."""
        self._disarm()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started:  # half an answer is out: only closing is left
                self.transport.close()
                return
            cycle.disconnected = True
            cycle.message_event.set()
        correlation = new_id()
        body = error_body(status, type_name, message, correlation)
        head = [
            b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
            *(name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            CORRELATION_HEADER.encode() + b": " + correlation.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
        log.debug(
            "answered %d %s and closed the connection from %s", status, type_name, self.client
        )


def guarded_protocol(timeouts: HttpTimeouts) -> type[GuardedProtocol]:
    """A protocol class for one server: uvicorn builds each connection's from a class."""
    limits = {
        "head_timeout": as_seconds(timeouts.header),
        "body_timeout": as_seconds(timeouts.body),
    }
    return type("GuardedProtocol", (GuardedProtocol,), limits)
