"""``Service``: a named group of handlers, and the decorators that declare them."""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, TypeVar, overload

from interlink._codec import Codec, codec_for
from interlink._context import Context
from interlink._errors import ApplicationError, ConfigurationError, DefinitionError
from interlink._handlers import Route, Rpc, Subscriber
from interlink._routes import build_route_params
from interlink._signature import Signature, read_signature
from interlink._streaming import stream_item_type
from interlink.broker._start import StartFrom, start_point
from interlink.messaging._dedupe import Dedupe
from interlink.messaging.inbox import Database
from interlink.resilience import Backoff, Retry

__all__ = ["Service"]

ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_TOPIC = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})

RpcFn = Callable[[ReqT, Context], Awaitable[RespT]] | Callable[[ReqT], Awaitable[RespT]]
StreamFn = Callable[[ReqT, Context], AsyncIterator[RespT]] | Callable[[ReqT], AsyncIterator[RespT]]


class Service:
    """A named unit of deployment: its RPCs, REST routes and event subscriptions.

    ::

        inventory = il.Service("inventory", version="1.2.0")

        @inventory.rpc
        async def reserve(req: Reserve, ctx: il.Context) -> Reserved: ...
    """

    def __init__(
        self,
        name: str,
        *,
        version: str = "0.0.0",
        description: str = "",
        publishes: Mapping[str, Any] | None = None,
    ) -> None:
        """``publishes={"orders.placed": OrderPlaced}`` declares the topics the service's
        handlers publish to and the model of each; the AsyncAPI document describes them."""
        if not _NAME.match(name):
            raise DefinitionError(
                f"service name {name!r} must start with a letter and use only letters, digits, "
                "'-' and '_' (no dots: calls are addressed as 'service.method')"
            )
        self.name = name
        self.version = version
        self.description = description
        self.rpcs: dict[str, Rpc[Any, Any]] = {}
        self.routes: dict[tuple[str, str], Route] = {}
        self.subscribers: list[Subscriber[Any]] = []
        self.health_checks: list[Callable[[], Awaitable[bool | None]]] = []
        self.publishes: dict[str, Codec[Any]] = {}
        """The declared topics this service publishes to, each with the codec of its model."""
        for topic, model in (publishes or {}).items():
            if not _TOPIC.match(topic):
                raise DefinitionError(
                    f"service {name}: publishes {topic!r}, but topic names are dot-separated words"
                )
            self.publishes[topic] = codec_for(model)

    def __repr__(self) -> str:
        return f"Service({self.name!r}, version={self.version!r})"

    @overload
    def rpc(self, fn: RpcFn[ReqT, RespT], /) -> Rpc[ReqT, RespT]: ...

    @overload
    def rpc(self, fn: StreamFn[ReqT, RespT], /) -> Rpc[ReqT, RespT]: ...

    @overload
    def rpc(
        self,
        /,
        *,
        name: str | None = None,
        idempotent: bool = False,
        timeout: float | timedelta | None = None,
        errors: Iterable[type[ApplicationError]] = (),
    ) -> Callable[[RpcFn[ReqT, RespT] | StreamFn[ReqT, RespT]], Rpc[ReqT, RespT]]: ...

    def rpc(
        self,
        fn: Any = None,
        /,
        *,
        name: str | None = None,
        idempotent: bool = False,
        timeout: float | timedelta | None = None,
        errors: Iterable[type[ApplicationError]] = (),
    ) -> Any:
        """Declare a request/response handler: one message in, one model (or None) out.

        An ``async def`` that yields, annotated ``-> AsyncIterator[Item]``, is a streaming RPC:
        callers read its items with ``ctx.stream`` (see docs/transports.md).

        ``errors`` lists the :class:`ApplicationError` subclasses it may answer with (its own,
        and those of the calls it makes that it lets through); OpenAPI shows each one.
        """

        def register(f: Callable[..., Awaitable[Any]]) -> Rpc[Any, Any]:
            method = name if name is not None else f.__name__
            what = f"rpc {self.name}.{method}"
            if not _NAME.match(method):
                raise DefinitionError(f"{what}: method names use letters, digits, '-' and '_'")
            if method in self.rpcs:
                raise DefinitionError(f"{what} is declared twice")
            sig = read_signature(f, what, Context, streams=True)
            message = _single_message(sig, what)
            declared = _declared_errors(errors, what)
            streaming = inspect.isasyncgenfunction(f)
            returns = stream_item_type(sig.returns, what) if streaming else sig.returns
            handler = Rpc(
                service=self.name,
                name=method,
                fn=f,
                request=codec_for(message),
                response=codec_for(returns),
                context_param=sig.context,
                idempotent=idempotent,
                timeout=_seconds(timeout, what),
                doc=inspect.getdoc(f) or "",
                errors=declared,
                streaming=streaming,
            )
            self.rpcs[method] = handler
            return handler

        return register if fn is None else register(fn)

    def subscribe(
        self,
        topic: str,
        *,
        group: str | None = None,
        max_in_flight: int = 16,
        retry: Retry | None = None,
        dead_letter_topic: str | None = None,
        dedupe: Dedupe | None = None,
        timeout: float | timedelta | None = None,
        max_redeliveries: int = 3,
        inbox: Database | None = None,
        start_from: StartFrom = "new",
        durable: bool = True,
    ) -> Callable[[Callable[..., Awaitable[Any]]], Subscriber[Any]]:
        """Consume events from ``topic``, at least once.

        Instances in the same ``group`` (default: the service name) share the work; every group
        gets every event. A handler that raises (or runs past ``timeout`` seconds) is tried
        again in place per ``retry`` (default: 5 runs, exponential backoff from 0.1 s to 30 s
        with full jitter); then the message goes to ``dead_letter_topic`` (default
        ``{topic}.dlq``) with the reason. A message delivered more than ``1 +
        max_redeliveries`` times without finishing (it crashed its consumer) is dead-lettered
        without running. ``dedupe`` runs each envelope id once. ``inbox=il.Database(...)``
        gives exactly-once effects through ``ctx.transaction()``. A handler that returns a value
        replies to ``ctx.request`` callers. ``start_from`` (``"new"``, ``"earliest"`` or an
        aware datetime) is where the group starts if this subscription creates it: from new
        messages, or also from those the broker retains (since that time); an existing group
        keeps its position. ``durable=False`` answers only non-durable requests
        (``ctx.request(..., durable=False)``) and consumes no stream: no events, no durable
        requests, no dead letters; its handler must return a value.
        """
        what = f"subscription {self.name}:{topic}"
        if not _TOPIC.match(topic):
            raise DefinitionError(f"{what}: topic names are dot-separated words")
        if max_in_flight < 1:
            raise DefinitionError(f"{what}: max_in_flight must be at least 1")
        if max_redeliveries < 0:
            raise DefinitionError(f"{what}: max_redeliveries must be 0 or more")
        handler_timeout = _seconds(timeout, what)
        try:
            start_point(start_from)
        except ConfigurationError as exc:
            raise DefinitionError(f"{what}: {exc}") from None

        def register(f: Callable[..., Awaitable[Any]]) -> Subscriber[Any]:
            sig = read_signature(f, what, Context)
            message = _single_message(sig, what)
            replies = sig.returns is not None and sig.returns is not type(None)
            if not durable and not replies:
                raise DefinitionError(
                    f"{what}: durable=False serves requests only; its handler must return a value"
                )
            subscriber: Subscriber[Any] = Subscriber(
                service=self.name,
                topic=topic,
                group=group if group is not None else self.name,
                fn=f,
                message=codec_for(message),
                response=codec_for(sig.returns) if replies else None,
                context_param=sig.context,
                retry=retry if retry is not None else default_consumer_retry(),
                max_in_flight=max_in_flight,
                dead_letter_topic=dead_letter_topic or f"{topic}.dlq",
                dedupe=dedupe,
                timeout=handler_timeout,
                max_redeliveries=max_redeliveries,
                inbox=inbox,
                start_from=start_from,
                durable=durable,
            )
            if any(s.topic == topic and s.group == subscriber.group for s in self.subscribers):
                raise DefinitionError(f"{what}: group {subscriber.group!r} already subscribes")
            self.subscribers.append(subscriber)
            return subscriber

        return register

    def health(
        self, fn: Callable[[], Awaitable[bool | None]]
    ) -> Callable[[], Awaitable[bool | None]]:
        """A readiness check: ``async def db_ok() -> bool``. The instance is registered (and
        ``/health/ready`` answers 200) only while every check returns True or None; a check
        that raises or takes over 2 s fails."""
        if not inspect.iscoroutinefunction(fn):
            raise DefinitionError(f"health check {fn!r} of {self.name} must be an `async def`")
        self.health_checks.append(fn)
        return fn

    def route(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        errors: Iterable[type[ApplicationError]] = (),
    ) -> Callable[[Callable[..., Awaitable[Any]]], Route]:
        """Declare a REST resource, e.g. ``@svc.route("GET", "/orders/{order_id}")``.

        Path parameters are named in braces; other scalar parameters are query parameters; a
        model parameter is the JSON body. Returning None answers 204. ``errors`` lists the
        :class:`ApplicationError` subclasses it may answer with, as for :meth:`rpc`.
        """
        verb = method.upper()
        what = f"route {verb} {path}"
        if verb not in _METHODS:
            raise DefinitionError(f"{what}: method must be one of {sorted(_METHODS)}")
        reserved = path.startswith(("/rpc/", "/health/", "/_interlink/")) or path == "/openapi.json"
        if not path.startswith("/") or reserved:
            raise DefinitionError(
                f"{what}: paths start with '/' and avoid /rpc, /health, /_interlink, /openapi.json"
            )
        declared = _declared_errors(errors, what)

        def register(f: Callable[..., Awaitable[Any]]) -> Route:
            if (verb, path) in self.routes:
                raise DefinitionError(f"{what} is declared twice in {self.name}")
            sig = read_signature(f, what, Context)
            route = Route(
                service=self.name,
                method=verb,
                path=path,
                fn=f,
                params=build_route_params(verb, path, sig, f"{self.name}.{f.__name__}"),
                response=codec_for(sig.returns),
                status=204 if sig.returns in (None, type(None)) else status,
                doc=inspect.getdoc(f) or "",
                tags=(self.name,),
                errors=declared,
            )
            self.routes[(verb, path)] = route
            return route

        return register


def default_consumer_retry() -> Retry:
    """5 runs in all, exponential backoff 0.1 s → 30 s with full jitter, on any error."""
    return Retry(
        attempts=5,
        backoff=Backoff.exponential(initial=0.1, multiplier=2.0, max_delay=30.0, jitter="full"),
        on=Exception,
    )


def _declared_errors(
    errors: Iterable[type[ApplicationError]], what: str
) -> tuple[type[ApplicationError], ...]:
    declared = tuple(errors)
    for error in declared:
        if not (isinstance(error, type) and issubclass(error, ApplicationError)):
            raise DefinitionError(
                f"{what}: errors= takes ApplicationError subclasses (e.g. `class OutOfStock("
                f"il.ApplicationError): status = 409`), not {error!r}"
            )
    return declared


def _single_message(sig: Signature, what: str) -> Any:
    if len(sig.params) != 1:
        names = [p.name for p in sig.params]
        raise DefinitionError(
            f"{what}: a handler takes exactly one message parameter (and optionally "
            f"`ctx: il.Context`), got {names or 'none'}"
        )
    return sig.params[0].annotation


def _seconds(value: float | timedelta | None, what: str) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise DefinitionError(f"{what}: timeout must be positive, not {seconds}")
    return seconds
