"""The running side of an App: backends, servers, consumers, registration, events."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
from typing import TYPE_CHECKING, Any

import msgspec

from interlink._calls import Calls
from interlink._codec import encode_any
from interlink._context import Context
from interlink._envelope import Envelope, format_time, new_id, new_traceparent
from interlink._errors import DeadlineExceeded
from interlink._handlers import Rpc
from interlink._policies import PolicySet
from interlink._remote import IDEMPOTENT, RemoteCalls
from interlink._wire import Outcome, outcome_to_error
from interlink.broker import Broker, broker_from_url
from interlink.broker._consumer import Consumer
from interlink.broker._headers import STATUS as REPLY_STATUS
from interlink.broker._requests import Requester
from interlink.discovery import Instance, Registry, registry_from_url
from interlink.discovery._cache import Discovery
from interlink.discovery._registration import SelfRegistration
from interlink.transport.http._client import HttpClient
from interlink.transport.http._server import HttpServer

if TYPE_CHECKING:
    from interlink._app import App
    from interlink.outbox import Outbox, OutboxRelay
    from interlink.resilience import Policy

__all__ = ["Runtime"]

log = logging.getLogger("interlink")


class Runtime:
    """Everything that exists only while an App runs. Built and torn down by ``App``."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.clock = app.clock
        self.running = {name: app.services[name] for name in app.running_services}
        self.rpcs: dict[tuple[str, str], Rpc[Any, Any]] = {
            (svc.name, rpc.name): rpc for svc in self.running.values() for rpc in svc.rpcs.values()
        }
        self.draining = False
        self.ready = False
        self.broker: Broker
        self.registry: Registry
        self.http: HttpClient
        self.server: HttpServer | None = None
        self._stack = contextlib.AsyncExitStack()
        self.calls = Calls(self)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise

    async def _start(self) -> None:
        stack = self._stack
        self.broker = await self._open(
            self.app.broker, functools.partial(broker_from_url, directory=self.app.directory)
        )
        self.registry = await self._open(
            self.app.registry, functools.partial(registry_from_url, directory=self.app.directory)
        )
        self.http = HttpClient()
        await self.http.open()
        stack.push_async_callback(self.http.close)
        self.requester = Requester(self.broker)
        stack.push_async_callback(self.requester.close)
        self.relays = [await self._relay(outbox) for outbox in self.app.outboxes]
        for service in self.running.values():
            for subscriber in service.subscribers:
                consumer = Consumer(self, subscriber)
                await consumer.start()
                stack.push_async_callback(consumer.stop, self.app.drain_timeout)
        self.discovery = Discovery(self.registry, balancer=self.app.load_balancer, clock=self.clock)
        stack.push_async_callback(self.discovery.close)
        self.remote = RemoteCalls(self.discovery, self.http, self.clock)
        if self.app.serve_http:
            self.server = HttpServer(self, self.app.host, self.app.port)
            await self.server.start()
            stack.push_async_callback(self.server.stop, self.app.drain_timeout)
        self.ready = True
        if self.server is not None:
            await self._register(self.server.port)

    async def _relay(self, outbox: Outbox[Any]) -> OutboxRelay:
        """Publish what the outbox's transactions committed; stopped before the broker."""
        from interlink.outbox import OutboxRelay

        await outbox.setup()
        relay = OutboxRelay(outbox, self.broker, clock=self.clock)
        await self._stack.enter_async_context(relay)
        return relay

    async def stop(self) -> None:
        self.ready = False
        self.draining = True
        await self._stack.aclose()

    async def _open(self, spec: Any, from_url: Any) -> Any:
        backend = from_url(spec) if isinstance(spec, str) else spec
        if isinstance(spec, str):
            await backend.connect()
            self._stack.push_async_callback(backend.close)
        return backend

    async def _register(self, port: int) -> None:
        """Register every running service once ready; deregistered first when stopping."""
        address = self.app.advertise_host
        instances = [
            Instance(
                id=f"{service.name}-{new_id()[:12]}",
                service=service.name,
                address=address,
                port=port,
                version=service.version,
                # Callers learn from discovery which methods are safe to retry after a
                # failure mid-call (the callee declares idempotency, not the caller).
                metadata={
                    IDEMPOTENT: ",".join(sorted(n for n, r in service.rpcs.items() if r.idempotent))
                },
            )
            for service in self.running.values()
        ]
        self.registration = SelfRegistration(
            self.registry,
            instances,
            ttl=self.app.registration_ttl,
            ready=self.is_ready,
            clock=self.clock,
        )
        await self.registration.start()
        self._stack.push_async_callback(self.registration.stop)

    @property
    def instances(self) -> list[Instance]:
        registration = getattr(self, "registration", None)
        return [] if registration is None else registration.instances

    async def is_ready(self) -> bool:
        """Started, not draining, and every ``@svc.health`` check passes (2 s each at most)."""
        if not self.ready or self.draining:
            return False
        for service in self.running.values():
            for check in service.health_checks:
                try:
                    async with asyncio.timeout(2.0):
                        if await check() is False:
                            return False
                except Exception:
                    return False
        return True

    # -- contexts and deadlines -------------------------------------------------------------

    def root_context(self, service: str) -> Context:
        return Context(
            self, service=service, correlation_id=new_id(), deadline=None, traceparent=None
        )

    def handler_context(self, service: str, envelope: Envelope, deadline: float | None) -> Context:
        return Context(
            self,
            service=service,
            correlation_id=envelope.correlationid or envelope.id,
            deadline=deadline,
            traceparent=envelope.traceparent,
            envelope=envelope,
            defer_events=True,
        )

    def effective_deadline(self, envelope: Envelope, timeout: float | None) -> float | None:
        """The tighter of the caller's deadline and the handler's own timeout."""
        deadline = envelope.deadline_at
        now = self.clock.time()
        if deadline is not None and deadline <= now:
            raise DeadlineExceeded(f"arrived {now - deadline:.3f}s after its deadline")
        if timeout is not None:
            deadline = now + timeout if deadline is None else min(deadline, now + timeout)
        return deadline

    def time_limit(self, deadline: float | None) -> asyncio.Timeout:
        if deadline is None:
            return asyncio.timeout(None)
        loop = asyncio.get_running_loop()
        return asyncio.timeout_at(loop.time() + (deadline - self.clock.time()))

    # -- calls ---------------------------------------------------------------------------------

    @property
    def policies(self) -> PolicySet:
        return self.calls.policies

    async def call(
        self,
        parent: Context,
        target: Rpc[Any, Any] | str,
        message: Any,
        returns: Any,
        timeout: float | None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> Any:
        return await self.calls.call(parent, target, message, returns, timeout, policy, key)

    # -- events -------------------------------------------------------------------------------

    def prepare_event(self, parent: Context, topic: str, message: Any, key: str | None) -> Envelope:
        deadline = parent.deadline
        return Envelope(
            id=new_id(),
            source=f"/{parent.service}",
            type=topic,
            specversion="1.0",
            time=format_time(self.clock.time()),
            traceparent=new_traceparent(parent.traceparent),
            correlationid=parent.correlation_id,
            causationid=parent.message_id,
            partitionkey=key,
            deadline=None if deadline is None or math.isinf(deadline) else format_time(deadline),
            data=msgspec.Raw(encode_any(message)),
        )

    async def send_event(self, topic: str, envelope: Envelope) -> None:
        await self.broker.publish(topic, envelope.to_bytes(), key=envelope.partitionkey)

    async def request(
        self,
        parent: Context,
        topic: str,
        message: Any,
        returns: Any,
        key: str | None,
        timeout: float,
    ) -> Any:
        now = self.clock.time()
        deadline = now + timeout if parent.deadline is None else min(parent.deadline, now + timeout)
        if deadline <= now:
            raise DeadlineExceeded(f"no time left to request {topic!r}")
        envelope = self.prepare_event(parent, topic, message, key)
        envelope.deadline = format_time(deadline)
        reply = await self.requester.request(topic, envelope, deadline - now)
        status = int(reply.headers.get(REPLY_STATUS, "500"))
        if status != 200:
            raise outcome_to_error(Outcome(status, reply.body), topic, "")
        return (
            msgspec.json.decode(reply.body)
            if returns is None
            else self.calls.codec(returns).decode(reply.body)
        )
