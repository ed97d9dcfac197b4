"""The calling side of the gRPC transport, for interlink callers: JSON bodies in gRPC messages.

Errors mean what they mean on HTTP: an answer with interlink's details (``interlink-status``,
``interlink-error-bin``) becomes that outcome; UNAVAILABLE without them (the connection could
not be made) is :class:`ServiceUnavailable`; DEADLINE_EXCEEDED is :class:`DeadlineExceeded`;
any other failure of the call itself a :class:`CallError` (it may have run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import grpc  # type: ignore[import-untyped]

from interlink._errors import CallError, DeadlineExceeded, ServiceUnavailable
from interlink._streaming import StreamFailed
from interlink._wire import Outcome, error_outcome
from interlink.transport.grpc._metadata import STREAM_KEY, metadata_of
from interlink.transport.grpc._status import ERROR_KEY, STATUS_KEY, status_of

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from interlink._envelope import Envelope

__all__ = ["GrpcClient"]

_MAX_CHANNELS = 1024


class GrpcClient:
    """Sends calls to ``host:port`` addresses, one channel (an HTTP/2 connection) per address;
    at most 1024 addresses are kept (the oldest is closed beyond that). An answer over
    ``max_message`` bytes is refused. ``credentials``: call with TLS."""

    def __init__(
        self,
        *,
        max_message: int = 64 << 20,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self._options = [
            ("grpc.max_receive_message_length", max_message),
            ("grpc.max_send_message_length", -1),
        ]
        self._credentials = credentials
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._methods: dict[tuple[str, str], Any] = {}

    async def __aenter__(self) -> GrpcClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        self._methods.clear()
        for channel in channels.values():
            await channel.close(None)

    async def send(
        self,
        address: str,
        path: str,
        envelope: Envelope,
        body: bytes,
        timeout: float | None,
    ) -> Outcome:
        """One call to ``path`` (``/{package}.{service}/{method}``)."""
        method = self._methods.get((address, path))
        if method is None:
            method = await self._method(address, path)
        try:
            answer = await method(body, timeout=timeout, metadata=metadata_of(envelope))
        except grpc.aio.AioRpcError as exc:
            return _outcome(exc, address, path)
        return Outcome(200, answer)

    async def stream(
        self, address: str, path: str, envelope: Envelope, body: bytes
    ) -> AsyncIterator[bytes]:
        """A streaming call: each item's JSON as it arrives. Raises :class:`StreamFailed`
        with the callee's error; closing this iterator cancels the call (and the handler)."""
        channel = await self._channel(address)
        metadata = (*metadata_of(envelope), (STREAM_KEY, "1"))
        call = channel.unary_stream(path)(body, metadata=metadata)
        try:
            streaming = dict(await call.initial_metadata() or ()).get(STREAM_KEY) == "1"
            async for item in call:
                if not streaming:  # a unary RPC answered (an error would have raised)
                    break
                yield item
            if not streaming:
                raise CallError(f"{path} is not a streaming RPC: use call()")
        except grpc.aio.AioRpcError as exc:
            raise StreamFailed(_outcome(exc, address, path)) from None
        finally:
            call.cancel()

    async def _method(self, address: str, path: str) -> Any:
        method = (await self._channel(address)).unary_unary(path)
        if len(self._methods) < 64 * _MAX_CHANNELS:
            self._methods[(address, path)] = method
        return method

    async def _channel(self, address: str) -> Any:
        channel = self._channels.get(address)
        if channel is None:
            if len(self._channels) >= _MAX_CHANNELS:
                oldest = next(iter(self._channels))
                for key in [k for k in self._methods if k[0] == oldest]:
                    del self._methods[key]
                await self._channels.pop(oldest).close(None)
            if self._credentials is None:
                channel = grpc.aio.insecure_channel(address, options=self._options)
            else:
                channel = grpc.aio.secure_channel(address, self._credentials, self._options)
            self._channels[address] = channel
        return channel


def _outcome(exc: grpc.aio.AioRpcError, address: str, path: str) -> Outcome:
    trailing = dict(exc.trailing_metadata() or ())
    status, error = trailing.get(STATUS_KEY), trailing.get(ERROR_KEY)
    if isinstance(status, str) and status.isdigit() and isinstance(error, bytes):
        return Outcome(int(status), error)
    code = exc.code()
    where = f"{path} at {address}"
    if code == grpc.StatusCode.UNAVAILABLE:
        raise ServiceUnavailable(f"cannot call {where}: {exc.details()}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        raise DeadlineExceeded(f"{where} did not answer in time")
    known = status_of(code)
    if known is None:
        raise CallError(f"{where} failed: {code.name} {exc.details()}")
    service, _, method = path.rpartition(".")[2].partition("/")
    return error_outcome(
        known[0],
        known[1],
        str(exc.details()),
        service=service,
        method=method,
        correlation_id="",
    )
