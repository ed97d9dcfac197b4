"""Sending a call to another process: discovery, balancing, and failing over a refusal.

A refused connection proves the request never ran, so it goes to another instance at once
(at most ``MAX_INSTANCES`` tries per attempt); every other outcome is reported to the
balancer and returned. Retries with backoff are the policy's job, above this.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import TYPE_CHECKING

from interlink._errors import CallError, ServiceUnavailable
from interlink.transport.http import HttpClient

if TYPE_CHECKING:
    from interlink._clock import Clock
    from interlink._envelope import Envelope
    from interlink._wire import Outcome
    from interlink.discovery import Instance
    from interlink.discovery._cache import Discovery
    from interlink.observe._calls import ClientCall
    from interlink.transport._tls import Tls
    from interlink.transport.grpc import GrpcClient
    from interlink.transport.socket import SocketClient

__all__ = ["GRPC", "GRPC_PACKAGE", "IDEMPOTENT", "SOCKET", "RemoteCalls"]

MAX_INSTANCES = 3
IDEMPOTENT = "idempotent"
"""Instance metadata: the comma-separated methods its handlers declare idempotent."""
SOCKET = "socket"
"""Instance metadata: the address its socket transport serves (``tcp://…``, ``unix://…``)."""
GRPC = "grpc"
"""Instance metadata: the ``host:port`` its gRPC transport serves."""
GRPC_PACKAGE = "grpc_package"
"""Instance metadata: the proto package of its gRPC methods (``/{package}.{service}/{method}``)."""


class RemoteCalls:
    def __init__(
        self,
        discovery: Discovery,
        http: HttpClient,
        clock: Clock,
        socket: SocketClient | None = None,
        transports: Mapping[str, str] | None = None,
    ) -> None:
        self._discovery = discovery
        self._http = http
        self._clock = clock
        self._socket = socket
        self._transports = transports or {}
        self._grpc: GrpcClient | None = None
        self.tls: Tls | None = None

    async def close(self) -> None:
        grpc, self._grpc = self._grpc, None
        if grpc is not None:
            await grpc.close()

    async def send(
        self,
        service: str,
        method: str,
        envelope: Envelope,
        body: bytes,
        deadline: float | None,
        key: str | None = None,
        *,
        bounded: bool = False,
        observer: ClientCall | None = None,
    ) -> Outcome:
        """``bounded``: the caller already holds this attempt to ``deadline`` with a timer.
        ``observer`` is told which instance the request goes to."""
        tried: list[str] = []
        while True:
            picked = self._discovery.pick_now(service, key, tried)
            if picked is None:  # the first call to this service: start watching it
                picked = await self._discovery.pick(service, key, tried)
            instance, balancer = picked
            remaining = None if deadline is None or bounded else deadline - self._clock.time()
            if observer is not None:
                observer.picked(instance.address, instance.port)
            balancer.started(instance)
            started = self._clock.monotonic()
            try:
                outcome = await self._send(
                    instance, service, method, envelope, body, remaining, observer
                )
            except ServiceUnavailable:
                balancer.finished(instance, self._clock.monotonic() - started, True)
                tried.append(instance.id)
                if len(tried) >= MAX_INSTANCES:
                    raise
                continue
            except CallError as exc:
                balancer.finished(instance, self._clock.monotonic() - started, True)
                if method in instance.metadata.get(IDEMPOTENT, "").split(","):
                    exc.retryable = True  # the callee said repeating this is safe
                raise
            except asyncio.CancelledError:  # the caller gave up (a losing hedge): no fault of it
                balancer.finished(instance, self._clock.monotonic() - started, False)
                raise
            except BaseException:
                balancer.finished(instance, self._clock.monotonic() - started, True)
                raise
            balancer.finished(instance, self._clock.monotonic() - started, outcome.status >= 500)
            return outcome

    def _send(
        self,
        instance: Instance,
        service: str,
        method: str,
        envelope: Envelope,
        body: bytes,
        remaining: float | None,
        observer: ClientCall | None = None,
    ) -> Awaitable[Outcome]:
        """The socket when the instance serves one (unless ``transports`` names another), else
        HTTP, else gRPC; ``transports={service: "socket" | "grpc"}`` skips instances without
        that transport."""
        address = instance.metadata.get(SOCKET)
        wanted = self._transports.get(service)
        if address is not None and wanted in (None, "socket") and self._socket is not None:
            if observer is not None:
                observer.via_socket(address)
            return self._socket.send(address, service, method, envelope, body, remaining)
        if self._over_grpc(instance, service):
            return self._send_grpc(instance, service, method, envelope, body, remaining)
        if wanted is not None and wanted != "http":
            raise ServiceUnavailable(
                f"{service} instance {instance.id} serves no {wanted} transport"
            )
        return self._http.send(instance.url, service, method, envelope, body, remaining)

    def _send_grpc(
        self,
        instance: Instance,
        service: str,
        method: str,
        envelope: Envelope,
        body: bytes,
        remaining: float | None,
    ) -> Awaitable[Outcome]:
        address = instance.metadata.get(GRPC)
        if address is None:
            raise ServiceUnavailable(f"{service} instance {instance.id} serves no grpc transport")
        path = f"/{instance.metadata.get(GRPC_PACKAGE, '')}.{service}/{method}"
        return self._grpc_client().send(address, path, envelope, body, remaining)

    def _over_grpc(self, instance: Instance, service: str) -> bool:
        """Asked for (``transports``), or the only transport the instance serves."""
        wanted = self._transports.get(service)
        if wanted is None:
            return "http" not in instance.transports and GRPC in instance.metadata
        return wanted == "grpc"

    def _grpc_client(self) -> GrpcClient:
        if self._grpc is None:  # made on the first call over gRPC: the extra is optional
            from interlink.transport.grpc import GrpcClient

            tls = self.tls
            credentials = None if tls is None else tls.grpc_channel_credentials()
            self._grpc = GrpcClient(credentials=credentials)
        return self._grpc

    async def stream(
        self,
        service: str,
        method: str,
        envelope: Envelope,
        body: bytes,
        deadline: float | None,
        observer: ClientCall | None = None,
    ) -> AsyncIterator[bytes]:
        """The encoded items of a streaming call to another process, from one instance (never
        retried), by the transport a unary call would take; ``observer`` is told which."""
        picked = self._discovery.pick_now(service, None, [])
        if picked is None:
            picked = await self._discovery.pick(service, None, [])
        instance, _ = picked
        if observer is not None:
            observer.picked(instance.address, instance.port)
        address = instance.metadata.get(SOCKET)
        wanted = self._transports.get(service)
        if address is not None and self._socket is not None and wanted in (None, "socket"):
            if observer is not None:
                observer.via_socket(address)
            items = self._socket.stream(address, service, method, envelope, body)
        elif self._over_grpc(instance, service):
            target = instance.metadata.get(GRPC)
            if target is None:
                raise ServiceUnavailable(f"{service} instance {instance.id} serves no grpc")
            path = f"/{instance.metadata.get(GRPC_PACKAGE, '')}.{service}/{method}"
            items = self._grpc_client().stream(target, path, envelope, body)
        elif wanted is not None and wanted != "http":
            raise ServiceUnavailable(
                f"{service} instance {instance.id} serves no {wanted} transport"
            )
        else:
            items = self._http.stream(instance.url, service, method, envelope, body)
        try:
            async for item in items:
                yield item
        finally:
            await items.aclose()  # type: ignore[attr-defined]
