"""``App``: which services run together, on which backends; ``async with app:`` runs them."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, overload

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink._context import Context
from interlink._errors import ConfigurationError, DefinitionError
from interlink._http import DEFAULT_HTTP_TIMEOUTS, HttpTimeouts
from interlink._policies import PolicyFactory, default_policy
from interlink._service import Service
from interlink.discovery._balancer import LoadBalancer
from interlink.discovery._factory import balancer
from interlink.resilience import Policy
from interlink.resilience._events import Listener

if TYPE_CHECKING:
    from interlink._handlers import Rpc
    from interlink._mount import AsgiApp
    from interlink._streaming import ItemStream
    from interlink.broker import Broker
    from interlink.discovery import Registry
    from interlink.observe import Observe
    from interlink.outbox import Outbox
    from interlink.runtime import Runtime
    from interlink.saga import Choreography, Saga, SagaEngine
    from interlink.transport._tls import Tls

__all__ = ["App"]

T = TypeVar("T")
ReqT = TypeVar("ReqT")
RespT = TypeVar("RespT")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class _Config:
    broker: str | Broker
    registry: str | Registry
    host: str
    port: int
    serve_http: bool
    only: frozenset[str] | None
    admin: bool | None
    advertise: str | None
    max_body_size: int
    drain_timeout: float
    clock: Clock
    name: str
    version: str
    policies: Mapping[str, Policy | PolicyFactory]
    default_policy: Policy | PolicyFactory | None
    policy_listeners: tuple[Listener, ...]
    directory: str
    outboxes: tuple[Outbox[Any], ...]
    registration_ttl: float
    load_balancer: Callable[[], LoadBalancer]
    http_timeouts: HttpTimeouts
    sagas: tuple[Saga[Any], ...]
    saga_lease: float
    choreographies: tuple[Choreography, ...]
    observe: Observe | None
    socket: str | None
    transports: Mapping[str, str]
    grpc: str | None
    tls: Tls | None


class App:
    """A set of services and the backends they run on.

    ``broker`` and ``registry`` take a URL (the App opens and closes the backend) or a backend
    object (you own its lifecycle, which lets several Apps share one in a test). ``only`` runs
    a subset of the services in this process; the rest are reached through the registry.
    """

    def __init__(
        self,
        services: Sequence[Service],
        *,
        broker: str | Broker = "memory://",
        registry: str | Registry = "memory://",
        host: str = "127.0.0.1",
        port: int = 8000,
        serve_http: bool = True,
        only: Collection[str] | None = None,
        admin: bool | None = None,
        advertise: str | None = None,
        max_body_size: int = 1 << 20,
        drain_timeout: float | timedelta = 10.0,
        clock: Clock = SYSTEM_CLOCK,
        name: str = "interlink",
        version: str = "0.0.0",
        policies: Mapping[str, Policy | PolicyFactory] | None = None,
        default_policy: Policy | PolicyFactory | None = default_policy,
        policy_listeners: Sequence[Listener] = (),
        directory: str = ".interlink",
        outboxes: Sequence[Outbox[Any]] = (),
        registration_ttl: float | timedelta = 10.0,
        load_balancer: Callable[[], LoadBalancer] | None = None,
        http_timeouts: HttpTimeouts = DEFAULT_HTTP_TIMEOUTS,
        sagas: Sequence[Saga[Any]] = (),
        saga_lease: float | timedelta = 10.0,
        choreographies: Sequence[Choreography] = (),
        observe: Observe | None = None,
        socket: bool | str | None = False,
        transports: Mapping[str, str] | None = None,
        grpc: bool | str | None = False,
        tls: Tls | None = None,
    ) -> None:
        self.services: dict[str, Service] = {}
        for service in services:
            if service.name in self.services:
                raise DefinitionError(f"two services are named {service.name!r}")
            self.services[service.name] = service
        unknown = sorted(set(only or ()) - set(self.services))
        if unknown:
            raise DefinitionError(
                f"unknown service(s) {unknown}; this app has {sorted(self.services)}"
            )
        if not 0 <= port <= 65535:
            raise DefinitionError(f"port must be 0-65535, not {port}")
        self._config = _Config(
            broker=broker,
            registry=registry,
            host=host,
            port=port,
            serve_http=serve_http,
            only=None if only is None else frozenset(only),
            admin=admin,
            advertise=advertise,
            max_body_size=max_body_size,
            drain_timeout=_seconds(drain_timeout),
            clock=clock,
            name=name,
            version=version,
            policies=dict(policies or {}),
            default_policy=default_policy,
            policy_listeners=tuple(policy_listeners),
            directory=directory,
            outboxes=tuple(outboxes),
            registration_ttl=_seconds(registration_ttl),
            # Built here, not as the default argument: it must run on this App's clock.
            load_balancer=load_balancer or balancer("p2c", clock=clock),
            http_timeouts=http_timeouts,
            sagas=tuple(sagas),
            saga_lease=_seconds(saga_lease),
            choreographies=tuple(choreographies),
            observe=observe,
            socket=_socket_address(socket, host),
            transports=_transports(transports),
            grpc=_grpc_address(grpc, host),
            tls=tls,
        )
        _check_routes(self.running_services, self.services)
        if tls is not None and (self._config.socket or "").startswith("unix:"):
            raise ConfigurationError("mutual TLS is served over TCP only, not a Unix socket")
        self._runtime: Runtime | None = None

    def replace(self, **changes: Any) -> App:
        """A copy of this App with some settings changed (e.g. ``only=``, ``port=``)."""
        settings = {f.name: getattr(self._config, f.name) for f in dataclasses.fields(_Config)}
        settings.update(changes)
        return App(list(self.services.values()), **settings)

    # -- settings ------------------------------------------------------------------------------

    @property
    def broker(self) -> str | Broker:
        return self._config.broker

    @property
    def registry(self) -> str | Registry:
        return self._config.registry

    @property
    def host(self) -> str:
        return self._config.host

    @property
    def port(self) -> int:
        return self._config.port

    @property
    def serve_http(self) -> bool:
        return self._config.serve_http

    @property
    def max_body_size(self) -> int:
        return self._config.max_body_size

    @property
    def drain_timeout(self) -> float:
        return self._config.drain_timeout

    @property
    def clock(self) -> Clock:
        return self._config.clock

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def version(self) -> str:
        return self._config.version

    @property
    def policies(self) -> Mapping[str, Policy | PolicyFactory]:
        """Policies for chosen target services: a Policy (shared by every call to that target)
        or a factory ``(service, clock) -> Policy``."""
        return self._config.policies

    @property
    def default_policy(self) -> Policy | PolicyFactory | None:
        """For every other target; a factory gives each target its own breaker. None: no policy."""
        return self._config.default_policy

    @property
    def policy_listeners(self) -> tuple[Listener, ...]:
        """Receive the events of every policy this App builds (breaker state, retries, ...)."""
        return self._config.policy_listeners

    @property
    def directory(self) -> str:
        """Where local state lives (the embedded broker's store and address)."""
        return self._config.directory

    @property
    def outboxes(self) -> tuple[Outbox[Any], ...]:
        """SQL outboxes whose committed events this App relays to its broker."""
        return self._config.outboxes

    @property
    def saga_definitions(self) -> tuple[Saga[Any], ...]:
        """The sagas this App's engine drives (and resumes after a crash) while it runs."""
        return self._config.sagas

    @property
    def saga_lease(self) -> float:
        return self._config.saga_lease

    @property
    def choreographies(self) -> tuple[Choreography, ...]:
        """The choreography trackers this App feeds (from its broker) and runs while it runs."""
        return self._config.choreographies

    @property
    def observe(self) -> Observe:
        """Tracing and metrics; when not given, read from the environment at each start
        (``Observe.from_env()``: ``INTERLINK_TRACING``, ``INTERLINK_METRICS``, ...)."""
        if self._config.observe is not None:
            return self._config.observe
        from interlink.observe import Observe

        return Observe.from_env()

    @property
    def sagas(self) -> SagaEngine:
        """The running saga engine: ``await app.sagas.start(checkout, Checkout(...), key=…)``."""
        engine = self.runtime.sagas
        if engine is None:
            raise RuntimeError("this App has no sagas: App(..., sagas=[...])")
        return engine

    @property
    def registration_ttl(self) -> float:
        """An instance that stops heartbeating disappears from the registry after this long."""
        return self._config.registration_ttl

    @property
    def load_balancer(self) -> Callable[[], LoadBalancer]:
        """Makes the balancer for each target service (one per target). Default: power of two
        choices on calls in flight, with outlier ejection (``interlink.discovery.balancer``)."""
        return self._config.load_balancer

    @property
    def http_timeouts(self) -> HttpTimeouts:
        """How long the HTTP server waits on a slow client: head, body, keep-alive."""
        return self._config.http_timeouts

    @property
    def socket(self) -> str | None:
        """Where the socket transport listens (``tcp://host:port``, ``unix:///path``), or None.
        ``App(socket=True)`` listens on a free port of ``host``."""
        return self._config.socket

    @property
    def transports(self) -> Mapping[str, str]:
        """Per target service, the transport its calls use (``"http"``, ``"socket"`` or
        ``"grpc"``); any other service: the socket when its instance serves one, else HTTP,
        else gRPC."""
        return self._config.transports

    @property
    def grpc(self) -> str | None:
        """Where the gRPC transport listens (``host:port``), or None. ``App(grpc=True)``
        listens on a free port of ``host``."""
        return self._config.grpc

    @property
    def tls(self) -> Tls | None:
        """Mutual TLS for every transport this App serves and calls over (docs/tls.md)."""
        return self._config.tls

    @property
    def running_services(self) -> list[str]:
        only = self._config.only
        return [name for name in self.services if only is None or name in only]

    @property
    def admin_enabled(self) -> bool:
        admin = self._config.admin
        return _is_loopback(self._config.host) if admin is None else admin

    @property
    def admin_requested(self) -> bool:
        """``admin=True`` was given: the admin API is served even off loopback, or mounted."""
        return self._config.admin is True

    @property
    def advertise_host(self) -> str:
        if self._config.advertise is not None:
            return self._config.advertise
        host = self._config.host
        return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host

    # -- running -------------------------------------------------------------------------------

    async def __aenter__(self) -> App:
        await self._start(mounted=False)
        return self

    async def _start(self, *, mounted: bool) -> None:
        from interlink.runtime import Runtime

        if self._runtime is not None:
            raise RuntimeError("this App is already running; use app.replace() for a second copy")
        runtime = Runtime(self, mounted=mounted)
        await runtime.start()
        self._runtime = runtime

    async def __aexit__(self, *exc_info: object) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            await runtime.stop()

    def asgi(self) -> AsgiApp:
        """This App's HTTP endpoints (RPC, REST routes, health, OpenAPI) as an ASGI application,
        to mount in an existing one: ``api.mount("/svc", app.asgi())``.

        It serves while the App runs: give the host application ``lifespan=app.lifespan`` (or
        run ``async with app.lifespan():`` in its own), and its requests reach this App's
        handlers; before and after, they are answered 503. Run on its own by an ASGI server,
        it handles the lifespan protocol itself.
        """
        from interlink._mount import MountedApp

        return MountedApp(self)

    def lifespan(self, host: object = None) -> AbstractAsyncContextManager[None]:
        """Run this App for as long as another ASGI application runs, without a server of its
        own: ``FastAPI(lifespan=app.lifespan)``; ``host`` (that application) is not used.

        Backends, consumers and handlers start as with ``async with app:``; HTTP is served
        only through :meth:`asgi`, so the instances are not registered in the registry (their
        address is the host's). The host server's own limits and timeouts apply.
        """
        return self._mounted()

    @contextlib.asynccontextmanager
    async def _mounted(self) -> AsyncIterator[None]:
        await self._start(mounted=True)
        try:
            yield
        finally:
            await self.__aexit__(None, None, None)

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("the App is not running: use `async with app:`")
        return self._runtime

    @property
    def url(self) -> str:
        """Where this App serves HTTP (the bound port, when port=0 was asked)."""
        server = self.runtime.server
        if server is None:
            raise RuntimeError("this App does not serve HTTP (serve_http=False)")
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://{self.advertise_host}:{server.port}"

    @property
    def socket_url(self) -> str:
        """Where this App serves the socket transport (the bound port, when port 0 was asked)."""
        server = self.runtime.socket_server
        if server is None:
            raise RuntimeError("this App serves no socket (socket=False, or mounted elsewhere)")
        return server.address

    @property
    def grpc_url(self) -> str:
        """Where this App serves gRPC, ``host:port`` (the bound port, when port 0 was asked)."""
        server = self.runtime.grpc_server
        if server is None:
            raise RuntimeError("this App serves no gRPC (grpc=False, or mounted elsewhere)")
        return server.address

    def context(self, service: str = "client") -> Context:
        """A root context, for calling and publishing from outside any handler."""
        return self.runtime.root_context(service)

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
        target: Any,
        message: Any,
        *,
        returns: Any = None,
        timeout: float | None = None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> Any:
        """Call an RPC from outside any handler (a script, a test, a CLI)."""
        return await self.context().call(
            target, message, returns=returns, timeout=timeout, policy=policy, key=key
        )

    def stream(
        self,
        target: Any,
        message: Any,
        *,
        returns: Any = None,
        timeout: float | None = None,
    ) -> ItemStream[Any]:
        """Call a streaming RPC from outside any handler; see :meth:`Context.stream`."""
        return self.context().stream(target, message, returns=returns, timeout=timeout)

    async def publish(self, topic: str, message: Any, *, key: str | None = None) -> None:
        """Publish an event from outside any handler; it is sent at once."""
        await self.context().publish(topic, message, key=key)

    def __repr__(self) -> str:
        return f"App({sorted(self.services)}, broker={self.broker!r}, registry={self.registry!r})"


def _check_routes(running: list[str], services: dict[str, Service]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for name in running:
        for key in services[name].routes:
            if key in seen:
                raise DefinitionError(
                    f"route {key[0]} {key[1]} is declared by both {seen[key]} and {name}"
                )
            seen[key] = name


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _socket_address(socket: bool | str | None, host: str) -> str | None:
    from interlink.transport.socket import parse_address

    if socket is False or socket is None:
        return None
    if socket is True:
        return parse_address(f"tcp://[{host}]:0" if ":" in host else f"tcp://{host}:0").url()
    if not isinstance(socket, str):
        raise ConfigurationError(f"socket is True, False or an address URL, not {socket!r}")
    return parse_address(socket).url()


def _transports(transports: Mapping[str, str] | None) -> dict[str, str]:
    chosen = dict(transports or {})
    for service, transport in chosen.items():
        if transport not in ("http", "socket", "grpc"):
            raise DefinitionError(
                f"transports[{service!r}] is 'http', 'socket' or 'grpc', not {transport!r}"
            )
    return chosen


def _grpc_address(grpc: bool | str | None, host: str) -> str | None:
    if grpc is False or grpc is None:
        return None
    if grpc is True:
        return f"[{host}]:0" if ":" in host else f"{host}:0"
    if not isinstance(grpc, str) or not grpc.rpartition(":")[2].isdigit():
        raise ConfigurationError(f"grpc is True, False or 'host:port', not {grpc!r}")
    return grpc
