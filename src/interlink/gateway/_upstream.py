"""Reaching a service's instances: pick one through discovery (filtered to a version when
asked), send the request head and body, and hand back the answer's head with the connection
still streaming its body.

A refused connection proves nothing was sent: the next instance is tried at once (at most
``MAX_INSTANCES``). A pooled connection the server had closed while idle is tried once more on a
fresh connection, when the body can be sent again. Every other failure is a ``CallError`` whose
``non_retryable`` says whether a retry would be unsafe: the request may have been processed and
its method is not idempotent, or its streamed body is gone.
"""

from __future__ import annotations

import time
from collections.abc import Collection

from starlette.types import Scope

from interlink._errors import CallError, ServiceUnavailable
from interlink.discovery import Instance, LoadBalancer
from interlink.discovery._cache import Discovery
from interlink.gateway._body import RequestBody
from interlink.gateway._headers import request_head
from interlink.transport.http._connection import Lost
from interlink.transport.http._pool import ConnectFailed, lost_while_idle
from interlink.transport.http._stream import StreamConnection
from interlink.transport.http._stream_pool import StreamPool

__all__ = ["IDEMPOTENT_METHODS", "MAX_INSTANCES", "Answer", "Upstream"]

MAX_INSTANCES = 3
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class Answer:
    """An upstream answer whose body is still arriving; ``close()`` exactly once."""

    __slots__ = ("_pool", "connection", "headers", "instance", "status")

    def __init__(
        self,
        pool: StreamPool,
        connection: StreamConnection,
        instance: Instance,
        head: tuple[int, list[tuple[bytes, bytes]]],
    ) -> None:
        self._pool = pool
        self.connection = connection
        self.instance = instance
        self.status, self.headers = head

    async def read(self, limit: int) -> bytes:
        """The whole body (a CallError past ``limit`` bytes)."""
        parts, size = [], 0
        while (chunk := await self.connection.chunk()) is not None:
            size += len(chunk)
            if size > limit:
                raise CallError(f"an upstream answer over {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        self.connection.release()
        self._pool.done()


class Upstream:
    def __init__(self, discovery: Discovery, pool: StreamPool) -> None:
        self.discovery = discovery
        self.pool = pool

    async def instances(self, service: str) -> list[Instance]:
        return (await self.discovery.view(service)).usable

    async def send(
        self,
        service: str,
        scope: Scope,
        method: str,
        target: str,
        body: RequestBody,
        exclude: Collection[str] = (),
    ) -> Answer:
        tried = list(exclude)
        while True:
            picked = self.discovery.pick_now(service, None, tried)
            if picked is None:
                picked = await self.discovery.pick(service, None, tried)
            instance, balancer = picked
            try:
                return await self._try(instance, balancer, scope, method, target, body)
            except ConnectFailed as exc:
                tried.append(instance.id)
                if len(tried) - len(exclude) >= MAX_INSTANCES:
                    raise ServiceUnavailable(f"cannot connect to {service}: {exc}") from exc
                continue

    async def _try(
        self,
        instance: Instance,
        balancer: LoadBalancer,
        scope: Scope,
        method: str,
        target: str,
        body: RequestBody,
    ) -> Answer:
        origin = (instance.address, instance.port, False)
        netloc = f"{instance.address}:{instance.port}"
        head = request_head(scope, method, target, netloc, body.length)
        balancer.started(instance)
        started = time.monotonic()
        failed = True
        try:
            connection = await self.pool.acquire(origin)
            try:
                answer = await self._exchange(connection, instance, method, head, body)
            except Lost as exc:
                if not (lost_while_idle(exc) and body.replayable):
                    raise self._lost(instance, method, body, exc) from exc
                connection = await self.pool.acquire(origin, fresh=True)
                try:
                    answer = await self._exchange(connection, instance, method, head, body)
                except Lost as again:
                    raise self._lost(instance, method, body, again) from again
            failed = answer.status >= 500
            return answer
        finally:
            balancer.finished(instance, time.monotonic() - started, failed)

    async def _exchange(
        self,
        connection: StreamConnection,
        instance: Instance,
        method: str,
        head: bytes,
        body: RequestBody,
    ) -> Answer:
        """Send on ``connection`` (whose pool slot is held) and wait for the answer's head."""
        try:
            connection.start(head_only=method == "HEAD")
            if body.whole is not None:
                await connection.write(head + body.whole)
            else:
                await connection.write(head)
                chunked = body.length is None
                async for piece in body.pieces():
                    await connection.write(
                        b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
                    )
                if chunked:
                    await connection.write(b"0\r\n\r\n")
            return Answer(self.pool, connection, instance, await connection.head())
        except BaseException:
            connection.abort()
            self.pool.done()
            raise

    @staticmethod
    def _lost(instance: Instance, method: str, body: RequestBody, exc: Lost) -> CallError:
        error = CallError(f"{instance.service} at {instance.url} failed mid-request: {exc}")
        error.non_retryable = not (method in IDEMPOTENT_METHODS and body.replayable)
        return error
