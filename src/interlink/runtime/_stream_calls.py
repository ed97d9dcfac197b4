"""The calling side of a streaming RPC: a typed async iterator over the items."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

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
    from interlink._dispatch import Dispatcher
    from interlink._handlers import Rpc
    from interlink.runtime._calls import Calls
    from interlink.runtime._remote import RemoteCalls

__all__ = ["RpcStream", "start_stream"]

T = TypeVar("T")


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
    ) -> None:
        self._open = open_source
        self._source: AsyncIterator[bytes] | None = None
        self._codec = codec
        self._service = service
        self._method = method
        self._deadline = deadline
        self._clock = clock
        self._closed = False

    def __aiter__(self) -> RpcStream[T]:
        return self

    async def __anext__(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        if self._source is None:
            self._source = self._open()
        try:
            if self._deadline is None:
                data = await anext(self._source)
            else:
                left = self._deadline - self._clock.time()
                if left <= 0:
                    raise DeadlineExceeded(f"{self._service}.{self._method}: stream deadline")
                async with timeout_after(left):
                    data = await anext(self._source)
        except StopAsyncIteration:
            await self.aclose()
            raise
        except StreamFailed as exc:
            await self.aclose()
            raise outcome_to_error(exc.outcome, self._service, self._method) from None
        except TimeoutError:
            await self.aclose()
            raise DeadlineExceeded(
                f"{self._service}.{self._method}: the stream passed its deadline"
            ) from None
        except BaseException:
            await self.aclose()
            raise
        if self._codec is None:
            return msgspec.json.decode(data)  # type: ignore[no-any-return]
        return self._codec.decode(data)

    async def aclose(self) -> None:
        """Stop reading; the handler on the other side is stopped. Idempotent."""
        self._closed = True
        source, self._source = self._source, None
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()

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
    local: Dispatcher,
    remote: RemoteCalls,
    parent: Context,
    target: Rpc[Any, Any] | str,
    message: Any,
    returns: Any,
    timeout: float | None,
) -> RpcStream[Any]:
    """Address a streaming call: in-process when the service runs here, else over the wire.
    Nothing is sent until the first item is read."""
    out = calls._outgoing(parent, target, message, returns)
    handler = local.rpc(out.service, out.method) if out.service in local.services else None
    if out.service in local.services:
        if handler is None:
            raise MethodNotFound(f"{out.service} has no method {out.method!r}")
        if not handler.streaming:
            raise CallError(f"{handler.target} is not a streaming RPC: use call()")
    if out.timeout is not None:
        timeout = out.timeout if timeout is None else min(timeout, out.timeout)
    now = calls.clock.time()
    deadline = parent.deadline
    if timeout is not None:
        deadline = now + timeout if deadline is None else min(deadline, now + timeout)
    if deadline is not None and deadline <= now:
        raise DeadlineExceeded(f"no time left to call {out.service}.{out.method}")
    envelope = Envelope(
        id=out.id,
        source=f"/{parent.service}",
        type=f"{out.service}.{out.method}",
        specversion="1.0",
        traceparent=child_traceparent(parent.traceparent),
        tracestate=parent.tracestate,
        correlationid=parent.correlation_id,
        causationid=parent.message_id,
        deadline=None if deadline is None else format_time(deadline),
        data=msgspec.Raw(out.body),
    )

    def open_source() -> AsyncIterator[bytes]:
        if handler is not None:
            return local.invoke_stream(handler, envelope, out.body)
        return remote.stream(out.service, out.method, envelope, out.body, deadline)

    return RpcStream(
        open_source,
        out.response,
        service=out.service,
        method=out.method,
        deadline=deadline,
        clock=calls.clock,
    )
