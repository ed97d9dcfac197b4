"""What the decorators build: one immutable description per handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from interlink._codec import Codec

if TYPE_CHECKING:
    from interlink._context import Context
    from interlink._errors import ApplicationError
    from interlink._routes import RouteParams
    from interlink.broker import StartFrom
    from interlink.messaging._dedupe import Dedupe
    from interlink.messaging.inbox import Database
    from interlink.resilience import Retry

__all__ = ["Route", "Rpc", "Subscriber"]

ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")


@dataclass(frozen=True, kw_only=True, eq=False)
class Rpc(Generic[ReqT, RespT]):
    """A request/response handler, served at ``POST /rpc/{service}/{name}``.

    Pass the object itself to ``ctx.call`` for a typed result; calling it directly runs the
    function (handy in unit tests).
    """

    service: str
    name: str
    fn: Callable[..., Any]
    request: Codec[ReqT]
    response: Codec[RespT]
    context_param: str | None
    idempotent: bool = False
    timeout: float | None = None
    doc: str = ""
    errors: tuple[type[ApplicationError], ...] = ()
    """The application errors it declares it can answer with (listed in OpenAPI)."""
    streaming: bool = False
    """An async generator handler: ``response`` encodes each item it yields (``ctx.stream``)."""

    @property
    def target(self) -> str:
        return f"{self.service}.{self.name}"

    def __call__(self, request: ReqT, ctx: Context | None = None) -> Any:
        if self.context_param is None:
            return self.fn(request)
        return self.fn(request, ctx)


@dataclass(frozen=True, kw_only=True, eq=False)
class Subscriber(Generic[ReqT]):
    """An event consumer: at-least-once, acknowledged after the handler returns.

    A handler that returns a value answers requests (``ctx.request``); ``response`` encodes it.
    """

    service: str
    topic: str
    group: str
    fn: Callable[..., Awaitable[Any]]
    message: Codec[ReqT]
    response: Codec[Any] | None
    context_param: str | None
    retry: Retry
    max_in_flight: int = 16
    dead_letter_topic: str = ""
    dedupe: Dedupe | None = None
    timeout: float | None = None
    """Seconds one run of the handler may take; a run that takes longer fails (and is retried)."""
    max_redeliveries: int = 3
    """A message the broker delivered more than 1 + this many times without it ever finishing
    (its consumer crashed or lost it each time) is dead-lettered without running: a poison pill."""
    inbox: Database | None = None
    """Exactly-once effects: ``ctx.transaction()`` commits the handler's writes, the processed
    message id and its events together in this database."""
    start_from: StartFrom = "new"
    """Where the group starts when this subscription creates it (an existing group keeps its
    position): ``"new"``, ``"earliest"`` retained, or retained since an aware datetime."""
    durable: bool = True
    """False: answers non-durable requests only (``ctx.request(..., durable=False)``), from no
    stream; True: consumes the topic's stream (events and durable requests)."""

    @property
    def scope(self) -> str:
        """Names this subscription in dedupe stores and inboxes: one per group and topic."""
        return f"{self.group}:{self.topic}"

    @property
    def name(self) -> str:
        return getattr(self.fn, "__name__", self.topic)


@dataclass(frozen=True, kw_only=True, eq=False)
class Route:
    """A REST resource: typed path and query parameters, an optional body model."""

    service: str
    method: str
    path: str
    fn: Callable[..., Awaitable[Any]]
    params: RouteParams
    response: Codec[Any]
    status: int = 200
    doc: str = ""
    tags: tuple[str, ...] = field(default=())
    errors: tuple[type[ApplicationError], ...] = ()
    """The application errors it declares it can answer with (listed in OpenAPI)."""

    @property
    def name(self) -> str:
        return getattr(self.fn, "__name__", self.path)
