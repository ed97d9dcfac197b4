"""``Context``: what a handler knows about the work it is doing, and how it reaches others."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from interlink._errors import PublishError

if TYPE_CHECKING:
    from interlink._envelope import Envelope
    from interlink._handlers import Rpc
    from interlink._streaming import ItemStream
    from interlink.resilience import Policy
    from interlink.saga import SagaEngine

__all__ = ["Context", "Outbound"]

T = TypeVar("T")
ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")

MAX_DEFERRED = 1000
"""How many events one handler may publish; they are held until it returns."""


class Outbound(Protocol):
    """The running App as a context sees it: how it calls, publishes and requests."""

    sagas: SagaEngine | None

    async def call(
        self,
        parent: Context,
        target: Rpc[Any, Any] | str,
        message: Any,
        returns: Any,
        timeout: float | None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> Any: ...

    def prepare_event(
        self, parent: Context, topic: str, message: Any, key: str | None
    ) -> Envelope: ...

    async def send_event(self, topic: str, envelope: Envelope, deadline: float | None) -> None: ...

    def stream(
        self,
        parent: Context,
        target: Rpc[Any, Any] | str,
        message: Any,
        returns: Any,
        timeout: float | None,
    ) -> ItemStream[Any]: ...

    async def request(
        self,
        parent: Context,
        topic: str,
        message: Any,
        returns: Any,
        key: str | None,
        timeout: float,
        durable: bool = True,
    ) -> Any: ...


class Transactions(Protocol):
    """Where ``ctx.transaction()`` comes from (a subscriber with ``inbox=db``)."""

    def transaction(self, ctx: Context) -> AbstractAsyncContextManager[Any]: ...


class Context:
    """Per-request state: correlation, deadline, trace, and the means to call and publish.

    A context made for a handler holds the events it publishes until the handler returns
    normally (publish after success); a root context (``app.context()``) sends them at once.
    """

    __slots__ = (
        "_deferred",
        "_dispatcher",
        "_envelope",
        "_transactions",
        "correlation_id",
        "deadline",
        "service",
        "traceparent",
        "tracestate",
    )

    def __init__(
        self,
        dispatcher: Outbound,
        *,
        service: str,
        correlation_id: str,
        deadline: float | None,
        traceparent: str | None,
        tracestate: str | None = None,
        envelope: Envelope | None = None,
        defer_events: bool = False,
        transactions: Transactions | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self.service = service
        """The name of the service whose handler is running (or the caller's name)."""
        self.correlation_id = correlation_id
        """Shared by every call and event that stems from the same original request."""
        self.deadline = deadline
        """Absolute deadline in epoch seconds, or None when the work is unbounded."""
        self.traceparent = traceparent
        """The W3C ``traceparent`` this work runs under; calls and events it sends continue it."""
        self.tracestate = tracestate
        """The W3C ``tracestate`` that came with it, passed on unchanged."""
        self._envelope = envelope
        self._deferred: list[tuple[str, Envelope]] | None = [] if defer_events else None
        self._transactions = transactions

    @property
    def headers(self) -> Mapping[str, str]:
        """The CloudEvents attributes of the message being handled."""
        return {} if self._envelope is None else self._envelope.headers()

    @property
    def envelope(self) -> Envelope | None:
        """The CloudEvent being handled (None for a direct call or a root context)."""
        return self._envelope

    @property
    def message_id(self) -> str | None:
        """The id of the message being handled; it becomes the causation id of what follows."""
        return None if self._envelope is None else self._envelope.id

    @overload
    async def call(
        self,
        target: Rpc[ReqT, RespT],
        message: ReqT,
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> RespT: ...

    @overload
    async def call(
        self,
        target: str,
        message: Any,
        *,
        returns: type[T],
        timeout: float | None = None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> T: ...

    @overload
    async def call(
        self,
        target: str,
        message: Any,
        *,
        timeout: float | None = None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> Any: ...

    async def call(
        self,
        target: Rpc[Any, Any] | str,
        message: Any,
        *,
        returns: Any = None,
        timeout: float | None = None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> Any:
        """Call an RPC: a handler object (typed result) or ``"service.method"``.

        The call inherits this context's correlation id, trace and deadline; ``timeout`` (and
        the handler's declared timeout) can only shorten the deadline. Without ``returns`` a
        by-name call gives decoded JSON. ``policy`` replaces the App's policy for this call.
        ``key`` asks for affinity: with a ring-hash balancer, calls with the same key go to the
        same instance while it is up.
        """
        return await self._dispatcher.call(self, target, message, returns, timeout, policy, key)

    @overload
    def stream(
        self, target: Rpc[Any, RespT], message: Any, *, timeout: float | None = None
    ) -> ItemStream[RespT]: ...

    @overload
    def stream(
        self, target: str, message: Any, *, returns: type[T], timeout: float | None = None
    ) -> ItemStream[T]: ...

    @overload
    def stream(
        self, target: str, message: Any, *, timeout: float | None = None
    ) -> ItemStream[Any]: ...

    def stream(
        self,
        target: Rpc[Any, Any] | str,
        message: Any,
        *,
        returns: Any = None,
        timeout: float | None = None,
    ) -> ItemStream[Any]:
        """Call a streaming RPC and read its items::

            async with ctx.stream(prices.watch, Watch(sku="a")) as items:
                async for price in items: ...

        Items arrive in order, each validated as the handler's item type (or ``returns``).
        Nothing is sent until the first item is read. Closing the stream (leaving the
        ``async with``, ``aclose()``) or cancelling the reader stops the handler. The
        deadline (this context's, ``timeout``, the handler's own) covers the whole stream.
        """
        return self._dispatcher.stream(self, target, message, returns, timeout)

    @overload
    async def request(
        self,
        topic: str,
        message: Any,
        *,
        returns: type[T],
        key: str | None = None,
        timeout: float = 30.0,
        durable: bool = True,
    ) -> T: ...

    @overload
    async def request(
        self,
        topic: str,
        message: Any,
        *,
        key: str | None = None,
        timeout: float = 30.0,
        durable: bool = True,
    ) -> Any: ...

    async def request(
        self,
        topic: str,
        message: Any,
        *,
        returns: Any = None,
        key: str | None = None,
        timeout: float = 30.0,
        durable: bool = True,
    ) -> Any:
        """Request/reply over the broker: publish to ``topic`` and wait for the subscriber's
        return value (matched by id; many requests may wait at once). Raises
        :class:`DeadlineExceeded` when no reply comes in ``timeout`` (or before this context's
        deadline), and the subscriber's error as a :class:`RemoteError` once it gave up.

        ``durable=False`` stores nothing: the request goes straight to one ``durable=False``
        subscriber of ``topic`` (any group); :class:`ServiceUnavailable` at once when there is
        none, and a subscriber that dies with it loses it (the caller gets
        :class:`DeadlineExceeded`)."""
        return await self._dispatcher.request(self, topic, message, returns, key, timeout, durable)

    @property
    def sagas(self) -> SagaEngine:
        """The App's saga engine (``App(..., sagas=[...])``)::

        saga_id = await ctx.sagas.start(checkout, Checkout(...), key=order_id)
        """
        engine = self._dispatcher.sagas
        if engine is None:
            raise RuntimeError("this App runs no sagas: App(..., sagas=[...])")
        return engine

    def event(self, topic: str, message: Any, *, key: str | None = None) -> Envelope:
        """The envelope :meth:`publish` would send, for sending another way (an outbox row)."""
        return self._dispatcher.prepare_event(self, topic, message, key)

    async def publish(self, topic: str, message: Any, *, key: str | None = None) -> None:
        """Publish an event. Inside a handler it is sent only if the handler succeeds."""
        envelope = self._dispatcher.prepare_event(self, topic, message, key)
        if self._deferred is None:
            await self._dispatcher.send_event(topic, envelope, self.deadline)
            return
        if len(self._deferred) >= MAX_DEFERRED:
            raise PublishError(f"a handler may publish at most {MAX_DEFERRED} events")
        self._deferred.append((topic, envelope))

    def hold(self, topic: str, envelope: Envelope) -> None:
        """Hold back a ready envelope as :meth:`publish` holds back an event: sent (or written
        to the outbox) only if the handler succeeds. For the runtime's durable replies."""
        if self._deferred is None:
            raise RuntimeError("only a handler's context holds events back")
        self._deferred.append((topic, envelope))

    def transaction(self) -> AbstractAsyncContextManager[Any]:
        """The inbox's transaction, in a subscriber declared with ``inbox=db``::

            async with ctx.transaction() as conn:     # the driver's own connection
                await conn.execute("insert into invoices ...")
                await ctx.publish("invoices.created", ...)   # an outbox row, same transaction

        Its writes, the record that this message was processed, and the events published so
        far commit together when the block ends normally, or not at all. If the message was
        processed already, entering raises and the delivery is acknowledged without effect.
        Open it at most once per message.
        """
        if self._transactions is None:
            raise RuntimeError(
                "ctx.transaction() needs a subscriber declared with inbox=il.Database(...)"
            )
        return self._transactions.transaction(self)

    def take_deferred(self) -> list[tuple[str, Envelope]]:
        """The events held back so far, handed over (to an outbox) and no longer held."""
        pending, self._deferred = self._deferred or [], []
        return pending

    async def flush(self) -> None:
        """Send the events held back while the handler ran (the runtime calls this)."""
        pending, self._deferred = self._deferred, []
        for topic, envelope in pending or ():
            await self._dispatcher.send_event(topic, envelope, self.deadline)

    def discard(self) -> None:
        """Drop the held-back events of a handler that failed."""
        if self._deferred is not None:
            self._deferred.clear()

    def __repr__(self) -> str:
        return f"<Context service={self.service!r} correlation_id={self.correlation_id!r}>"
