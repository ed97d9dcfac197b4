"""The calling side of a streaming RPC: a typed async iterator over the items."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import msgspec

from interlink._envelope import Envelope, format_time
from interlink._errors import CallError, DeadlineExceeded, MethodNotFound
from interlink._streaming import StreamFailed
from interlink._timer import timeout_after
from interlink._tracecontext import child_traceparent
from interlink._wire import outcome_to_error

if TYPE_CHECKING:
    from interlink._clock import Clock
    from interlink._codec import Codec
    from interlink._context import Context
    from interlink._handlers import Rpc
    from interlink.resilience import Retry
    from interlink.runtime._calls import Calls

__all__ = ["RpcStream", "start_stream"]

T = TypeVar("T")


class StreamObserver(Protocol):
    """Told of one stream's items and of its end, once (tracing and metrics)."""

    def item(self) -> None: ...

    def ended(self, how: str, error: BaseException | None = None) -> None:
        """``how``: ``completed``, ``cancelled`` or ``failed`` (with ``error``)."""
        ...


class RpcStream(Generic[T]):
    """The items of one streaming call, in order, each decoded (and validated) as ``T``.

    Iterate it, or use it as ``async with`` to close it early: closing (or breaking out of an
    ``async with``, or cancelling the reader) stops the handler on the server. An error the
    handler raises after some items raises the mapped interlink error after those items. The
    deadline covers the whole stream.
    """

    def __init__(
        self,
        open_source: Callable[[], AsyncIterator[bytes]],
        codec: Codec[T] | None,
        *,
        service: str,
        method: str,
        deadline: float | None,
        clock: Clock,
        retry: Retry | None = None,
        idempotent: bool = False,
        observer: StreamObserver | None = None,
    ) -> None:
        self._open = open_source
        self._observer = observer
        """Told of each item and of the end (tracing and metrics record them)."""
        self._source: AsyncIterator[bytes] | None = None
        self._codec = codec
        self._service = service
        self._method = method
        self._deadline = deadline
        self._clock = clock
        self._retry = retry
        self._idempotent = idempotent
        self._closed = False

    def __aiter__(self) -> RpcStream[T]:
        return self

    async def __anext__(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        try:
            if self._deadline is None:
                data = await self._next()
            else:
                left = self._deadline - self._clock.time()
                if left <= 0:
                    raise DeadlineExceeded(f"{self._service}.{self._method}: stream deadline")
                async with timeout_after(left):
                    data = await self._next()
            if data is None:
                raise StopAsyncIteration
        except StopAsyncIteration:
            await self._end("completed")
            raise
        except StreamFailed as exc:
            error = outcome_to_error(exc.outcome, self._service, self._method)
            await self._end("failed", error)
            raise error from None
        except TimeoutError:
            error = DeadlineExceeded(
                f"{self._service}.{self._method}: the stream passed its deadline"
            )
            await self._end("failed", error)
            raise error from None
        except Exception as exc:
            await self._end("failed", exc)
            raise
        except BaseException:
            await self.aclose()
            raise
        if self._observer is not None:
            self._observer.item()
        if self._codec is None:
            return msgspec.json.decode(data)  # type: ignore[no-any-return]
        return self._codec.decode(data)

    async def _next(self) -> bytes | None:
        if self._source is not None:
            return await anext(self._source)
        if self._retry is None:
            return await self._first()
        # Retried (per the policy's Retry) only up to the first item: never once one arrived.
        first: bytes | None = await self._retry.call(self._first)
        return first

    async def _first(self) -> bytes | None:
        """Open the stream and take its first item (None: it had none)."""
        source = self._source = self._open()
        try:
            return await anext(source)
        except StopAsyncIteration:
            return None
        except (StreamFailed, CallError) as exc:
            await self._drop()
            error = (
                outcome_to_error(exc.outcome, self._service, self._method)
                if isinstance(exc, StreamFailed)
                else exc
            )
            # As for a unary call: repeated only when that is safe.
            if not (
                self._idempotent
                or getattr(error, "not_processed", False)
                or getattr(error, "retryable", False)
            ):
                error.non_retryable = True
            raise error from None

    async def _drop(self) -> None:
        source, self._source = self._source, None
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()

    async def aclose(self) -> None:
        """Stop reading; the handler on the other side is stopped. Idempotent."""
        await self._end("cancelled")

    async def _end(self, how: str, error: BaseException | None = None) -> None:
        self._closed = True
        try:
            await self._drop()
        finally:
            if self._observer is not None:
                self._observer.ended(how, error)

    async def __aenter__(self) -> RpcStream[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def start_stream(
    calls: Calls,
    parent: Context,
    target: Rpc[Any, Any] | str,
    message: Any,
    returns: Any,
    timeout: float | None,
) -> RpcStream[Any]:
    """Address a streaming call: in-process when the service runs here, else over the wire.
    Nothing is sent until the first item is read."""
    local, remote = calls._local, calls._remote
    out = calls._outgoing(parent, target, message, returns)
    here = out.service in local.services
    handler = local.rpc(out.service, out.method) if here else None
    refused: CallError | None = None  # raised on the first read, as a remote refusal would be
    if here and handler is None:
        refused = MethodNotFound(f"{out.service} has no method {out.method!r}")
    elif handler is not None and not handler.streaming:
        refused = CallError(f"{handler.target} is not a streaming RPC: use call()")
    if out.timeout is not None:
        timeout = out.timeout if timeout is None else min(timeout, out.timeout)
    now = calls.clock.time()
    deadline = parent.deadline
    if timeout is not None:
        deadline = now + timeout if deadline is None else min(deadline, now + timeout)
    if deadline is not None and deadline <= now:
        raise DeadlineExceeded(f"no time left to call {out.service}.{out.method}")
    observer = calls.watch_stream(parent, out.service, out.method)
    envelope = Envelope(
        id=out.id,
        source=f"/{parent.service}",
        type=f"{out.service}.{out.method}",
        specversion="1.0",
        traceparent=child_traceparent(parent.traceparent)
        if observer is None or observer.traceparent is None
        else observer.traceparent,
        tracestate=parent.tracestate,
        correlationid=parent.correlation_id,
        causationid=parent.message_id,
        deadline=None if deadline is None else format_time(deadline),
        data=msgspec.Raw(out.body),
    )

    def open_source() -> AsyncIterator[bytes]:
        if refused is not None:
            return _refuse(refused)
        if handler is not None:
            return local.invoke_stream(handler, envelope, out.body)
        return remote.stream(out.service, out.method, envelope, out.body, deadline, observer)

    policy = calls.policies.for_service(out.service)
    return RpcStream(
        open_source,
        out.response,
        service=out.service,
        method=out.method,
        deadline=deadline,
        clock=calls.clock,
        retry=None if policy is None else policy.retry,
        idempotent=out.idempotent,
        observer=observer,
    )


async def _refuse(error: CallError) -> AsyncIterator[bytes]:
    raise error
    yield b""  # pragma: no cover - makes this an async generator
