"""One accepted socket connection: frames in, one task per call, answers out.

A frame that cannot be trusted to end where it says (a bad header length, an unknown kind, a
request on a stream already in use) ends the connection with a GOAWAY naming the reason; a
frame that is only wrong in itself (too large, a malformed header, an unknown method) is
answered with an error on its own stream, and the connection goes on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import msgspec

from interlink._envelope import check_attributes
from interlink._errors import CodecError
from interlink._wire import Outcome, error_outcome
from interlink.transport._tls import peer_identity
from interlink.transport.http._asgi import correlation_id
from interlink.transport.socket._frame import (
    CANCEL,
    GOAWAY,
    PING,
    PONG,
    REQUEST,
    RESPONSE,
    STREAM_END,
    STREAM_ITEM,
    STREAM_OPEN,
    WINDOW,
    Frame,
    FrameReader,
    ProtocolError,
    decode_request,
    encode_frame,
    envelope_of,
)
from interlink.transport.socket._streaming import Credit, start_sending

if TYPE_CHECKING:
    from interlink._dispatch import Dispatcher
    from interlink._envelope import Envelope
    from interlink._handlers import Rpc

__all__ = ["ServerConnection", "status_header"]

log = logging.getLogger("interlink")


def status_header(status: int) -> bytes:
    return status.to_bytes(2, "big")


class ServerConnection(asyncio.Protocol):
    """Serves the calls multiplexed on one connection."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        max_body: int,
        max_streams: int,
        connections: set[ServerConnection],
    ) -> None:
        self._dispatcher = dispatcher
        self._max_body = max_body
        self._max_streams = max_streams
        self._connections = connections
        # A header is at most 64 KiB (its length is a u16), so a frame is at most this.
        self._reader = FrameReader(max_body + 0x10000)
        self._transport: asyncio.Transport | None = None
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.credits: dict[int, Credit] = {}  # per streaming call: what it may still send
        self._paused: asyncio.Future[None] | None = None
        self.draining = False
        self._peer: str | None = None
        self._network = "tcp"
        """``network.transport``: ``tcp``, or ``unix`` on a Unix socket."""
        """The client's service identity, from its verified certificate (mutual TLS)."""

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.add(self)
        if isinstance(transport.get_extra_info("sockname"), str):
            self._network = "unix"
        tls = transport.get_extra_info("ssl_object")
        if tls is not None:
            self._peer = peer_identity(tls.getpeercert())

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._transport = None
        for task in self.tasks.values():
            task.cancel()  # nobody is left to answer: the handlers stop
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)

    def pause_writing(self) -> None:
        # The peer does not read its answers: stop reading its requests until it does.
        self._paused = asyncio.get_running_loop().create_future()
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        paused, self._paused = self._paused, None
        if paused is not None and not paused.done():
            paused.set_result(None)
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._reader.feed(data)
        except ProtocolError as exc:
            self.goaway(str(exc), close=True)
            return
        for frame in frames:
            kind = frame.kind
            if kind in (REQUEST, STREAM_OPEN):
                self._request(frame)
            elif kind == WINDOW:
                credit = self.credits.get(frame.stream)
                if credit is not None:
                    credit.add(int.from_bytes(frame.header[:4], "big"))
            elif kind == CANCEL:
                task = self.tasks.get(frame.stream)
                if task is not None:
                    task.cancel()
            elif kind == PING:
                self._write(encode_frame(frame.stream, PONG))
            elif kind in (RESPONSE, STREAM_ITEM, STREAM_END):
                self.goaway("a client sent a response frame", close=True)
                return
            if self._transport is None or self._transport.is_closing():
                return  # closed for a protocol error: nothing after it is read

    # -- the connection --------------------------------------------------------------------

    def goaway(self, reason: str, *, close: bool) -> None:
        """Tell the peer to open no more streams here; ``close``: and end the connection."""
        self.draining = True
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(encode_frame(0, GOAWAY, reason.encode()[:0xFFFF]))
        if close:
            log.warning("closing a socket connection: %s", reason)
            transport.close()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    # -- calls -----------------------------------------------------------------------------

    def _request(self, frame: Frame) -> None:
        stream = frame.stream
        if stream == 0 or stream in self.tasks:
            self.goaway(f"a request on stream {stream}, which is not free", close=True)
            return
        if frame.oversized:
            self._fail(stream, 413, "PayloadTooLarge", f"body over {self._max_body} bytes")
            return
        try:
            header = decode_request(frame.header)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self._fail(stream, 400, "BadRequest", f"a malformed request header: {exc}")
            return
        service, method = header.service, header.method
        dispatcher = self._dispatcher
        handler = dispatcher.rpc(service, method)
        if handler is None:
            known = service in dispatcher.services
            text = (
                f"{service} has no method {method!r}" if known else f"no service {service!r} here"
            )
            self._fail(stream, 404, "MethodNotFound", text, service, method)
            return
        if dispatcher.draining or self.draining:
            self._fail(stream, 503, "ServiceUnavailable", f"{service} is shutting down")
            return
        if len(self.tasks) >= self._max_streams:
            text = f"over {self._max_streams} calls in flight on one connection"
            self._fail(stream, 503, "ServiceUnavailable", text, service, method)
            return
        if len(frame.body) > self._max_body:
            self._fail(stream, 413, "PayloadTooLarge", f"body over {self._max_body} bytes")
            return
        envelope = envelope_of(header, frame.body)
        if not (header.id and header.source and header.type) or header.time is not None:
            try:
                check_attributes(envelope)
            except CodecError as exc:
                self._fail(stream, 400, "BadRequest", str(exc), service, method)
                return
        # None, or one that is not fit to echo in a log line: a fresh one.
        envelope.correlationid = correlation_id(envelope.correlationid)
        if frame.kind == STREAM_OPEN:
            return self._stream(stream, handler, envelope, frame.body)
        task = asyncio.get_running_loop().create_task(
            self._serve(stream, handler, envelope, frame.body)
        )
        self.tasks[stream] = task

    async def _serve(
        self, stream: int, handler: Rpc[Any, Any], envelope: Envelope, body: bytes
    ) -> None:
        try:
            outcome = await self._dispatcher.invoke_rpc(
                handler, envelope, body, peer=self._peer, transport=self._network
            )
            if self._paused is not None:
                # Shielded: a call cancelled here must not cancel the others' shared future.
                await asyncio.shield(self._paused)
        except asyncio.CancelledError:
            return  # the caller cancelled, or left: nobody wants the answer
        finally:
            self.tasks.pop(stream, None)
        self._answer(stream, outcome)

    def _stream(self, stream: int, handler: Rpc[Any, Any], envelope: Envelope, body: bytes) -> None:
        if not handler.streaming:
            text = f"{handler.target} is not a streaming RPC: use call()"
            self._fail(stream, 400, "BadRequest", text, handler.service, handler.name)
            return
        items = self._dispatcher.invoke_stream(
            handler, envelope, body, peer=self._peer, transport=self._network
        )
        start_sending(stream, items, self.tasks, self.credits, self._write, self._writable)

    async def _writable(self) -> None:
        if self._paused is not None:
            await asyncio.shield(self._paused)

    def _answer(self, stream: int, outcome: Outcome) -> None:
        self._write(encode_frame(stream, RESPONSE, status_header(outcome.status), outcome.body))

    def _fail(
        self,
        stream: int,
        status: int,
        type_name: str,
        message: str,
        service: str = "",
        method: str = "",
    ) -> None:
        outcome = error_outcome(
            status,
            type_name,
            message,
            service=service,
            method=method,
            correlation_id=correlation_id(None),
        )
        self._answer(stream, outcome)
