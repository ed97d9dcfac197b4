"""The composition root: everything that exists only while an App runs.

Built in dependency order before anything serves or consumes (backends ▸ HTTP client ▸
discovery ▸ calls, events and requests ▸ outbox relays ▸ consumers ▸ server ▸ registration) and
torn down in reverse. Consumers and the server drain together, against one shared deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from interlink._context import Context
from interlink._envelope import new_id
from interlink._tracecontext import new_traceparent
from interlink.broker import Broker, broker_from_url
from interlink.discovery import Instance, Registry, registry_from_url
from interlink.discovery._cache import Discovery
from interlink.discovery._registration import SelfRegistration
from interlink.messaging import Consumer, Requester
from interlink.observe import Telemetry
from interlink.runtime._admin import AdminView
from interlink.runtime._calls import Calls
from interlink.runtime._inbound import Inbound
from interlink.runtime._outbound import Outbound
from interlink.runtime._remote import GRPC, GRPC_PACKAGE, IDEMPOTENT, SOCKET, RemoteCalls
from interlink.runtime._saga_subscribers import reply_subscribers, tracker_subscribers
from interlink.transport.http import HttpApp, HttpClient, HttpServer, HttpSettings
from interlink.transport.socket import SocketAddress, SocketClient, SocketServer, parse_address

if TYPE_CHECKING:
    from interlink._app import App
    from interlink._policies import PolicySet
    from interlink.messaging.inbox import Database
    from interlink.observe._state import StateMetrics
    from interlink.outbox import Outbox, OutboxRelay
    from interlink.saga import Choreography, SagaEngine
    from interlink.transport.grpc import GrpcServer

__all__ = ["Runtime"]

log = logging.getLogger("interlink")


def _nothing() -> None:
    return None


class Runtime:
    """Everything that exists only while an App runs. Built and torn down by ``App``."""

    def __init__(self, app: App, *, mounted: bool = False) -> None:
        self.app = app
        self.mounted = mounted
        """Serving through another ASGI server (``App.lifespan``): no listening socket."""
        self.clock = app.clock
        self.running = {name: app.services[name] for name in app.running_services}
        self.broker: Broker
        self.registry: Registry
        self.requester: Requester
        self.discovery: Discovery
        self.inbound: Inbound
        self.outbound: Outbound
        self.server: HttpServer | None = None
        self.http_app: HttpApp | None = None
        """The HTTP surface as an ASGI app: what the server serves and ``App.asgi()`` mounts."""
        self.socket_server: SocketServer | None = None
        self.grpc_server: GrpcServer | None = None
        self.consumers: list[Consumer] = []
        self.relays: list[OutboxRelay] = []
        self.registration: SelfRegistration | None = None
        self.sagas: SagaEngine | None = None
        self.telemetry: Telemetry
        """Tracing and metrics; its parts are None when off (``App(observe=…)``)."""
        self.state_metrics: StateMetrics | None = None
        """Breakers, retries, subscriptions, dead letters, sagas; None when metrics are off."""
        self._stack = contextlib.AsyncExitStack()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._build()
            await self._serve()
        except BaseException:
            await self._stack.aclose()
            raise

    async def stop(self) -> None:
        if hasattr(self, "inbound"):
            self.inbound.draining = True
        await self._stack.aclose()

    async def _build(self) -> None:
        """Everything a handler may use, before any handler can run."""
        app, stack = self.app, self._stack
        self.broker = await self._open(
            app.broker, functools.partial(broker_from_url, directory=app.directory)
        )
        self.registry = await self._open(
            app.registry, functools.partial(registry_from_url, directory=app.directory)
        )
        self.telemetry = Telemetry(app.observe, list(self.running), self.broker.url)
        stack.push_async_callback(self.telemetry.aclose)  # after everything that records
        if self.telemetry.registry is not None:
            from interlink.observe._state import StateMetrics

            self.state_metrics = StateMetrics(self.telemetry.registry)
            stack.push_async_callback(self.state_metrics.aclose)
        tls = None if app.tls is None else app.tls.client_context()
        self.http = http = HttpClient(ssl=tls)
        stack.push_async_callback(http.close)
        self.socket_client = SocketClient(ssl=tls)
        stack.push_async_callback(self.socket_client.close)
        self.discovery = Discovery(self.registry, balancer=app.load_balancer, clock=self.clock)
        stack.push_async_callback(self.discovery.close)
        self.requester = Requester(self.broker)
        stack.push_async_callback(self.requester.close)
        # With telemetry on, the observed subclasses of the call and message paths run.
        seen = self.telemetry if self.telemetry.active else None
        hooks: dict[str, Any] = {} if seen is None else {"telemetry": seen}
        if seen is not None:  # imported only then: it needs the observe extra
            from interlink.runtime._observed import ObservedCalls, ObservedInbound, ObservedOutbound
        self.outbound = (Outbound if seen is None else ObservedOutbound)(
            broker=self.broker, requester=self.requester, clock=self.clock, **hooks
        )
        self.relays = [await self._relay(outbox) for outbox in app.outboxes]
        relayed = {id(outbox) for outbox in app.outboxes}
        wakers = await self._inboxes(relayed)
        self.inbound = (Inbound if seen is None else ObservedInbound)(
            self.running, self.outbound, self.clock, wakers, **hooks
        )
        peers = None if app.tls is None else app.tls.peers
        self.inbound.default_allow = None if peers is None else frozenset(peers)
        metrics = self.state_metrics
        remote = RemoteCalls(self.discovery, http, self.clock, self.socket_client, app.transports)
        remote.tls = app.tls  # gRPC calls present this App's certificate
        stack.push_async_callback(remote.close)
        self.outbound.calls = (Calls if seen is None else ObservedCalls)(
            local=self.inbound,
            remote=remote,
            clock=self.clock,
            policies=app.policies,
            default_policy=app.default_policy,
            listeners=app.policy_listeners,
            policy_observer=None if metrics is None else metrics.policies.observe,
            **hooks,
        )
        relayed |= {id(db.outbox) for db in wakers}
        if app.saga_definitions:
            await self._sagas(relayed)
        for tracker in app.choreographies:
            await self._tracker(tracker, relayed)

    async def _sagas(self, relayed: set[int]) -> None:
        """Drive the App's sagas (resuming those a crash left behind) on the App's clock; each
        step's ``ctx.call`` goes through this App. Stopped after the consumers drained."""
        from interlink.saga import SagaEngine

        engine = SagaEngine(
            self.app.saga_definitions,
            clock=self.clock,
            lease=self.app.saga_lease,
            context=self.root_context,
            observer=self.telemetry.saga_steps(self.root_context),
        )
        await self._stack.enter_async_context(engine)
        self.sagas = self.outbound.sagas = engine
        for saga in self.app.saga_definitions:  # the commands steps send
            if id(saga.database.outbox) not in relayed:
                self.relays.append(await self._relay(saga.database.outbox))
                relayed.add(id(saga.database.outbox))

    async def _tracker(self, tracker: Choreography, relayed: set[int]) -> None:
        """Open the tracker's database, relay the compensating events it writes to the outbox
        (unless a relay already does), and run its expiry loop until the App stops."""
        db = tracker.database
        if not db.is_open:
            await db.open()
            self._stack.push_async_callback(db.close)
        if id(db.outbox) not in relayed:
            self.relays.append(await self._relay(db.outbox))
            relayed.add(id(db.outbox))
        await self._stack.enter_async_context(tracker)

    async def _inboxes(self, relayed: set[int]) -> dict[Database, Callable[[], None]]:
        """Open every inbox database the subscribers name, and relay its outbox."""
        wakers: dict[Database, Callable[[], None]] = {}
        for service in self.running.values():
            for subscriber in service.subscribers:
                db = subscriber.inbox
                if db is None or db in wakers:
                    continue
                if not db.is_open:
                    await db.open()
                    self._stack.push_async_callback(db.close)
                if id(db.outbox) in relayed:
                    wakers[db] = _nothing
                    continue
                relay = await self._relay(db.outbox)
                self.relays.append(relay)
                wakers[db] = relay.wake
        return wakers

    async def _serve(self) -> None:
        app = self.app
        self._stack.push_async_callback(self._drain)  # whatever started, drained together
        subscribers = [s for service in self.running.values() for s in service.subscribers]
        if self.sagas is not None:
            subscribers += reply_subscribers(self.sagas)
        for tracker in app.choreographies:
            subscribers += tracker_subscribers(tracker)
        for subscriber in subscribers:
            consumer = Consumer(
                self.broker,
                subscriber,
                self.inbound,
                clock=self.clock,
                on_dead_letter=self.telemetry.dead_letters(subscriber),
                observer=self.telemetry.deliveries(subscriber),
            )
            self.consumers.append(consumer)
            await consumer.start()
        if self.state_metrics is not None:  # sampling stops before the consumers drain
            sagas, trackers = app.saga_definitions, app.choreographies
            await self.state_metrics.start(self.broker, self.consumers, sagas, trackers)
            self._stack.push_async_callback(self.state_metrics.stop)
        if app.serve_http or self.mounted:
            await self._http()
        if app.socket is not None and not self.mounted:
            tls = None if app.tls is None else app.tls.server_context()
            self.socket_server = SocketServer(
                self.inbound, app.socket, max_body=app.max_body_size, ssl=tls
            )
            await self.socket_server.start()
        if app.grpc is not None and not self.mounted:
            await self._grpc(app.grpc)
        self.inbound.started = True
        if self.server is not None or self.socket_server is not None or self.grpc_server:
            await self._register(0 if self.server is None else self.server.port)

    async def _grpc(self, address: str) -> None:
        from interlink.transport.grpc import GrpcServer, package_name

        package = package_name(self.app.name)
        max_body = self.app.max_body_size
        tls = self.app.tls
        credentials = None if tls is None else tls.grpc_server_credentials()
        self.grpc_server = GrpcServer(
            self.inbound, address, package=package, max_body=max_body, credentials=credentials
        )
        await self.grpc_server.start()

    async def _http(self) -> None:
        app = self.app
        settings = HttpSettings(
            host=app.host,
            port=app.port,
            max_body_size=app.max_body_size,
            drain_timeout=app.drain_timeout,
            title=app.name,
            version=app.version,
            timeouts=app.http_timeouts,
            tls=None if self.mounted else app.tls,
        )
        # Mounted in another application, the admin API is served only when asked for: that
        # application's address is not known to be loopback.
        wanted = app.admin_requested if self.mounted else app.admin_enabled
        admin = AdminView(self) if wanted else None
        telemetry = self.telemetry if self.telemetry.active else None
        self.http_app = HttpApp(self.inbound, settings, admin, telemetry)
        if not self.mounted:
            self.server = HttpServer(self.inbound, settings, app=self.http_app)
            await self.server.start()

    async def _drain(self) -> None:
        """Stop taking work everywhere at once; all finish within one ``drain_timeout``."""
        self.inbound.draining = True
        timeout = self.app.drain_timeout
        deadline = asyncio.get_running_loop().time() + timeout
        stops = [consumer.stop(deadline) for consumer in self.consumers]
        if self.server is not None:
            stops.append(self.server.stop(timeout))
        if self.socket_server is not None:
            stops.append(self.socket_server.stop(timeout))
        if self.grpc_server is not None:
            stops.append(self.grpc_server.stop(timeout))
        results = await asyncio.gather(*stops, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.error("a consumer or server failed to stop cleanly", exc_info=result)

    async def _relay(self, outbox: Outbox[Any]) -> OutboxRelay:
        """Publish what the outbox's transactions committed; stopped after the consumers."""
        from interlink.outbox import OutboxRelay

        await outbox.setup()
        relay = OutboxRelay(
            outbox, self.broker, clock=self.clock, observer=self.telemetry.relayed()
        )
        await self._stack.enter_async_context(relay)
        return relay

    async def _open(self, spec: Any, from_url: Any) -> Any:
        backend = from_url(spec) if isinstance(spec, str) else spec
        if isinstance(spec, str):
            await backend.connect()
            self._stack.push_async_callback(backend.close)
        return backend

    async def _register(self, port: int) -> None:
        """Register every running service once ready; deregistered first when stopping."""
        address = self.app.advertise_host
        transports, extra = self._transports(address)
        instances = [
            Instance(
                id=f"{service.name}-{new_id()[:12]}",
                service=service.name,
                address=address,
                port=port,
                transports=transports,
                version=service.version,
                # Callers learn from discovery which methods are safe to retry after a
                # failure mid-call (the callee declares idempotency, not the caller).
                metadata={
                    IDEMPOTENT: ",".join(
                        sorted(n for n, r in service.rpcs.items() if r.idempotent)
                    ),
                    **extra,
                    **({} if self.app.tls is None else {"tls": "mutual"}),
                },
            )
            for service in self.running.values()
        ]
        self.registration = SelfRegistration(
            self.registry,
            instances,
            ttl=self.app.registration_ttl,
            ready=self.inbound.is_ready,
            clock=self.clock,
        )
        await self.registration.start()
        self._stack.push_async_callback(self.registration.stop)

    def _transports(self, host: str) -> tuple[tuple[str, ...], dict[str, str]]:
        """What an instance serves, and the socket's address for callers (under the
        advertised host when it listens on TCP)."""
        served: tuple[str, ...] = ("http",) if self.server is not None else ()
        extra: dict[str, str] = {}
        if self.socket_server is not None:
            bound = parse_address(self.socket_server.address)
            if not bound.is_unix:
                bound = SocketAddress(host, bound.port)
            served, extra[SOCKET] = (*served, "socket"), bound.url()
        if self.grpc_server is not None:
            port = self.grpc_server.address.rpartition(":")[2]
            at = f"[{host}]" if ":" in host else host
            served, extra[GRPC] = (*served, "grpc"), f"{at}:{port}"
            extra[GRPC_PACKAGE] = self.grpc_server.package
        return served, extra

    # -- views -----------------------------------------------------------------------------

    @property
    def draining(self) -> bool:
        return self.inbound.draining

    @property
    def instances(self) -> list[Instance]:
        return [] if self.registration is None else self.registration.instances

    @property
    def policies(self) -> PolicySet:
        return self.outbound.calls.policies

    def root_context(self, service: str) -> Context:
        return Context(
            self.outbound,
            service=service,
            correlation_id=new_id(),
            deadline=None,
            traceparent=new_traceparent(),
        )
