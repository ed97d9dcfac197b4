"""The runtime's side of the Dispatcher seam: running handlers for transports and consumers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from interlink._clock import Clock
from interlink._context import Context, Outbound, Transactions
from interlink._errors import (
    CodecError,
    DeadlineExceeded,
    ValidationFailed,
)
from interlink._replies import reply_event
from interlink._timer import CoarseTimeout, timeout_after
from interlink._tracecontext import continue_trace
from interlink._wire import Outcome, error_outcome
from interlink.runtime._failures import Failures, denied, refused
from interlink.runtime._inbox import InboxRun
from interlink.runtime._streams import serve_stream

if TYPE_CHECKING:
    from interlink._envelope import Envelope
    from interlink._handlers import Route, Rpc, Subscriber
    from interlink._service import Service
    from interlink.messaging.inbox import Database

__all__ = ["Inbound"]

log = logging.getLogger("interlink")

_HEALTH_CHECK_TIMEOUT = 2.0


def _nothing() -> None:
    return None


class Inbound:
    """Implements :class:`interlink._dispatch.Dispatcher` for one running App."""

    def __init__(
        self,
        services: Mapping[str, Service],
        outbound: Outbound,
        clock: Clock,
        wakers: Mapping[Database, Callable[[], None]] | None = None,
    ) -> None:
        self.services = services
        self._outbound = outbound
        self._clock = clock
        self._wakers = dict(wakers or {})
        """per inbox database: wake its outbox relay after a commit"""
        self._rpcs: dict[tuple[str, str], Rpc[Any, Any]] = {
            (svc.name, rpc.name): rpc for svc in services.values() for rpc in svc.rpcs.values()
        }
        self.started = False
        self.draining = False
        self._failures = Failures()
        """(handler, status, type) of undeclared errors already warned about"""
        self.default_allow: frozenset[str] | None = None
        """Caller identities served by handlers without ``allow=`` (``Tls(peers=...)``)."""

    # -- state -------------------------------------------------------------------------------

    async def is_ready(self) -> bool:
        """Started, not draining, and every ``@svc.health`` check passes (2 s each at most)."""
        if not self.started or self.draining:
            return False
        for service in self.services.values():
            for check in service.health_checks:
                try:
                    async with asyncio.timeout(_HEALTH_CHECK_TIMEOUT):
                        if await check() is False:
                            return False
                except Exception:
                    return False
        return True

    def rpc(self, service: str, method: str) -> Rpc[Any, Any] | None:
        return self._rpcs.get((service, method))

    # -- contexts and deadlines ----------------------------------------------------------------

    def context(
        self,
        service: str,
        envelope: Envelope,
        deadline: float | None,
        transactions: Transactions | None = None,
        peer: str | None = None,
    ) -> Context:
        # An invalid or missing traceparent restarts the trace here, for all the work below.
        traceparent, tracestate = continue_trace(envelope.traceparent, envelope.tracestate)
        return Context(
            self._outbound,
            service=service,
            correlation_id=envelope.correlationid or envelope.id,
            deadline=deadline,
            traceparent=traceparent,
            tracestate=tracestate,
            envelope=envelope,
            defer_events=True,
            transactions=transactions,
            peer=peer,
        )

    def deadline(self, envelope: Envelope, timeout: float | None) -> float | None:
        """The tighter of the caller's deadline and the handler's own timeout."""
        deadline = envelope.deadline_at
        now = self._clock.time()
        if deadline is not None and deadline <= now:
            raise DeadlineExceeded(f"arrived {now - deadline:.3f}s after its deadline")
        if timeout is not None:
            deadline = now + timeout if deadline is None else min(deadline, now + timeout)
        return deadline

    def time_limit(self, deadline: float | None) -> asyncio.Timeout | CoarseTimeout:
        if deadline is None:
            return asyncio.timeout(None)
        return timeout_after(deadline - self._clock.time())

    async def _run(
        self, ctx: Context, deadline: float | None, run: Callable[[], Awaitable[Any]]
    ) -> Any:
        """Run a handler within its deadline; send its held-back events only if it returns."""
        try:
            if deadline is None:  # the common case: no timeout scope to enter and leave
                result = await run()
            else:
                async with self.time_limit(deadline):
                    result = await run()
            await ctx.flush()
        except BaseException:
            ctx.discard()
            raise
        return result

    # -- work ------------------------------------------------------------------------------------

    denial = staticmethod(denied)
    """The 403 message for a caller ``allow=`` leaves out."""

    def refused(self, handler: Rpc[Any, Any] | Route, peer: str | None) -> bool:
        """The handler's ``allow=`` (else the App's ``Tls(peers=...)``) leaves ``peer`` out."""
        allowed = handler.allow if handler.allow is not None else self.default_allow
        return allowed is not None and peer not in allowed

    async def invoke_rpc(
        self,
        handler: Rpc[Any, Any],
        envelope: Envelope,
        body: bytes,
        *,
        peer: str | None = None,
        transport: str | None = None,
    ) -> Outcome:
        """Never raises for a handler's failure: every outcome is a status and a body."""
        if self.refused(handler, peer):
            return refused(handler, envelope, 403, "PermissionDenied", denied(handler.target, peer))
        try:
            deadline = self.deadline(envelope, handler.timeout)
            if handler.streaming:
                message = f"{handler.target} streams: call it with stream()"
                return refused(handler, envelope, 400, "BadRequest", message)
            request = handler.request.decode(body)
        except ValidationFailed as exc:
            return refused(handler, envelope, 422, "ValidationError", str(exc), exc.errors)
        except CodecError as exc:
            return refused(handler, envelope, 400, "BadRequest", str(exc))
        except DeadlineExceeded as exc:
            return refused(handler, envelope, 504, "DeadlineExceeded", str(exc))
        ctx = self.context(handler.service, envelope, deadline, peer=peer)
        # What _run does, inline: no closure and no frame of its own per call. The answer is
        # encoded within the deadline; held-back events go out only if all of that succeeds.
        try:
            try:
                if deadline is None:
                    payload = handler.response.encode(await handler(request, ctx))
                else:
                    async with self.time_limit(deadline):
                        payload = handler.response.encode(await handler(request, ctx))
                await ctx.flush()
            except BaseException:
                ctx.discard()
                raise
        except Exception as exc:
            correlation_id = envelope.correlationid or envelope.id
            return self._failed(exc, handler.target, handler, correlation_id, handler.idempotent)
        return Outcome(200, payload)

    def invoke_stream(
        self,
        handler: Rpc[Any, Any],
        envelope: Envelope,
        body: bytes,
        *,
        peer: str | None = None,
        transport: str | None = None,
    ) -> AsyncIterator[bytes]:
        return serve_stream(self, handler, envelope, body, peer)

    async def invoke_route(
        self, route: Route, envelope: Envelope, kwargs: dict[str, Any], *, peer: str | None = None
    ) -> Outcome:
        correlation_id = envelope.correlationid or envelope.id

        def fail(status: int, type_name: str, message: str) -> Outcome:
            return error_outcome(
                status,
                type_name,
                message,
                service=route.service,
                method=route.name,
                correlation_id=correlation_id,
            )

        if self.refused(route, peer):
            return fail(403, "PermissionDenied", denied(f"{route.method} {route.path}", peer))
        try:
            deadline = self.deadline(envelope, None)
        except CodecError as exc:
            return fail(400, "BadRequest", str(exc))
        except DeadlineExceeded as exc:
            return fail(504, "DeadlineExceeded", str(exc))
        ctx = self.context(route.service, envelope, deadline, peer=peer)
        if route.params.context is not None:
            kwargs[route.params.context] = ctx
        try:

            async def run() -> bytes:
                return route.response.encode(await route.fn(**kwargs))

            payload: bytes = await self._run(ctx, deadline, run)
        except Exception as exc:
            where = f"{route.method} {route.path}"
            return self._failed(exc, where, route, correlation_id, idempotent=False)
        return Outcome(route.status, payload)

    def _failed(
        self,
        exc: Exception,
        where: str,
        handler: Rpc[Any, Any] | Route,
        correlation_id: str,
        idempotent: bool,
    ) -> Outcome:
        return self._failures.failed(exc, where, handler, correlation_id, idempotent)

    async def handle_delivery(
        self, subscriber: Subscriber[Any], envelope: Envelope, message: Any, *, replying: bool
    ) -> bytes | None:
        deadline = envelope.deadline_at if replying else None
        if subscriber.timeout is not None:
            limit = self._clock.time() + subscriber.timeout
            deadline = limit if deadline is None else min(deadline, limit)
        db = subscriber.inbox
        inbox = None
        if db is not None:
            inbox = InboxRun(db, subscriber.scope, envelope, self._wakers.get(db, _nothing))
        ctx = self.context(subscriber.service, envelope, deadline, inbox)
        fn, response = subscriber.fn, subscriber.response

        async def guarded() -> bytes | None:
            try:
                return await run()
            except BaseException:
                if inbox is not None:  # a transaction held open for the reply: roll it back
                    await inbox.abort()
                raise

        async def run() -> bytes | None:
            if subscriber.context_param is None:
                result = await fn(message)
            else:
                result = await fn(message, ctx)
            # Encoded before the held-back events go out: a reply that cannot be encoded is a
            # failure of the handler, and its events must not be sent.
            reply = None
            if replying or envelope.replyto is not None:
                reply = b"null" if response is None else response.encode(result)
            if envelope.replyto is not None:  # a durable reply: an event, held back with the rest
                source, now = f"/{subscriber.service}", self._clock.time()
                ctx.hold(
                    envelope.replyto,
                    reply_event(envelope, 200, reply or b"null", source=source, now=now),
                )
            if inbox is not None:
                await inbox.finish(ctx)
            return reply

        reply: bytes | None = await self._run(ctx, deadline, run if inbox is None else guarded)
        return reply
