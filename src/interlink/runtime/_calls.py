"""Calls to RPCs: which policy, which attempt, in-process or over the wire.

Every attempt of one call shares the envelope id (the idempotency key). A failure is marked
``non_retryable`` unless the handler is idempotent, the callee said a retry is safe, or the
failure proves the request never ran.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from interlink._clock import SYSTEM_CLOCK, Clock
from interlink._codec import Codec, codec_for, encode_any
from interlink._context import Context
from interlink._envelope import Envelope, format_time, new_id
from interlink._errors import (
    CallError,
    DeadlineExceeded,
    InterlinkError,
    MethodNotFound,
)
from interlink._handlers import Rpc
from interlink._policies import PolicyFactory, PolicyObserver, PolicySet
from interlink._tracecontext import child_traceparent
from interlink._wire import Outcome, outcome_to_error

if TYPE_CHECKING:
    from interlink._dispatch import Dispatcher
    from interlink.observe._calls import ClientCall
    from interlink.observe._streams import ClientStream
    from interlink.resilience import Policy
    from interlink.resilience._events import Listener
    from interlink.runtime._remote import RemoteCalls

__all__ = ["Calls", "Outgoing"]


class Calls:
    """The calling side of one running App (``ctx.call`` ends up here)."""

    def __init__(
        self,
        *,
        local: Dispatcher,
        remote: RemoteCalls,
        clock: Clock,
        policies: Mapping[str, Policy | PolicyFactory],
        default_policy: Policy | PolicyFactory | None,
        listeners: tuple[Listener, ...],
        policy_observer: PolicyObserver | None = None,
    ) -> None:
        self._local = local
        self._remote = remote
        self.clock = clock
        self.policies = PolicySet(
            policies, default_policy, clock, self.invoke_fallback, listeners, policy_observer
        )
        self._codecs: dict[Any, Codec[Any]] = {}

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
        if isinstance(target, Rpc) and target.streaming:
            raise CallError(f"{target.target} is a streaming RPC: read it with stream()")
        out = self._outgoing(parent, target, message, returns)
        out.key = key
        if out.timeout is not None:
            timeout = out.timeout if timeout is None else min(timeout, out.timeout)
        now = self.clock.time()
        deadline = parent.deadline
        if timeout is not None:
            deadline = now + timeout if deadline is None else min(deadline, now + timeout)
        if deadline is not None and deadline <= now:
            raise DeadlineExceeded(f"no time left to call {out.service}.{out.method}")
        policy = (
            self.policies.for_service(out.service)
            if policy is None
            else self.policies.adopt(policy)
        )
        if policy is None:
            return await self._attempt(deadline, out)
        # The policy counts time on its own clock's monotonic(); the wire carries wall time.
        out.clock = policy.clock
        monotonic = None if deadline is None else policy.clock.monotonic() + (deadline - now)
        return await policy.execute_with_deadline(monotonic, self._attempt_on_policy_clock, out)

    def _outgoing(
        self, parent: Context, target: Rpc[Any, Any] | str, message: Any, returns: Any
    ) -> Outgoing:
        if isinstance(target, Rpc):
            return Outgoing(
                parent=parent,
                service=target.service,
                method=target.name,
                body=target.request.encode(message),
                response=target.response,
                idempotent=target.idempotent,
                timeout=target.timeout,
            )
        service, method = _split_target(target)
        local = self._local.rpc(service, method)
        return Outgoing(
            parent=parent,
            service=service,
            method=method,
            body=encode_any(message),
            response=None if returns is None else self.codec(returns),
            idempotent=local is not None and local.idempotent,
            timeout=None if local is None else local.timeout,
        )

    def _attempt_on_policy_clock(self, deadline: float | None, out: Outgoing) -> Awaitable[Any]:
        # The policy already holds this attempt to ``deadline`` with its own timer.
        wall = None if deadline is None else self.clock.time() + (deadline - out.clock.monotonic())
        return self._attempt(wall, out, bounded=deadline is not None)

    async def _attempt(
        self,
        deadline: float | None,
        out: Outgoing,
        *,
        bounded: bool = False,
        observer: ClientCall | None = None,
    ) -> Any:
        """One try. Every attempt of a call shares the envelope id: the idempotency key.
        ``observer`` (tracing or metrics on) names the span the request is sent under."""
        parent = out.parent
        traceparent = None if observer is None else observer.traceparent
        envelope = Envelope(
            id=out.id,
            source=f"/{parent.service}",
            type=f"{out.service}.{out.method}",
            specversion="1.0",
            traceparent=traceparent or child_traceparent(parent.traceparent),
            tracestate=parent.tracestate,
            correlationid=parent.correlation_id,
            causationid=parent.message_id,
            deadline=None if deadline is None else format_time(deadline),
            data=msgspec.Raw(out.body),
        )
        try:
            if out.service in self._local.services:
                outcome = await self._send_local(out, envelope)
            else:
                outcome = await self._remote.send(
                    out.service,
                    out.method,
                    envelope,
                    out.body,
                    deadline,
                    out.key,
                    bounded=bounded,
                    observer=observer,
                )
            if observer is not None:
                observer.status = outcome.status
            if outcome.status != 200:
                raise outcome_to_error(outcome, out.service, out.method)
            if out.response is None:
                return msgspec.json.decode(outcome.body)
            return out.response.decode(outcome.body)
        except InterlinkError as exc:
            # Retrying is safe only if the handler is idempotent, or the failure proves the
            # request never ran; anything else may have had its effect already.
            if not (
                out.idempotent
                or getattr(exc, "not_processed", False)
                or getattr(exc, "retryable", False)
            ):
                exc.non_retryable = True
            raise

    def _send_local(self, out: Outgoing, envelope: Envelope) -> Awaitable[Outcome]:
        handler = self._local.rpc(out.service, out.method)
        if handler is None:
            raise MethodNotFound(f"{out.service} has no method {out.method!r}")
        # In-process, the caller is who its context says: allow= applies as over the network.
        return self._local.invoke_rpc(handler, envelope, out.body, peer=out.parent.service)

    async def invoke_fallback(self, target: str, out: Outgoing) -> Any:
        """Fallback(to="service.method"): the same request, sent to another method."""
        returns = None if out.response is None else out.response.type
        return await self.call(out.parent, target, msgspec.Raw(out.body), returns, None)

    def watch_stream(self, parent: Context, service: str, method: str) -> ClientStream | None:
        """What records one streaming call (tracing or metrics on; see ``_observed.py``)."""
        return None

    def codec(self, tp: Any) -> Codec[Any]:
        codec = self._codecs.get(tp)
        if codec is None:
            codec = self._codecs[tp] = codec_for(tp)
        return codec


class Outgoing:
    """One call on its way out: what every attempt of it needs.

    Equal (and hashing alike) when the target and the encoded request are the same, which is
    what ``Fallback(cached=…)`` keys its last good answers on.
    """

    __slots__ = (
        "body",
        "clock",
        "id",
        "idempotent",
        "key",
        "method",
        "parent",
        "response",
        "sent",
        "service",
        "timeout",
    )

    def __init__(
        self,
        *,
        parent: Context,
        service: str,
        method: str,
        body: bytes,
        response: Codec[Any] | None,
        idempotent: bool,
        timeout: float | None,
    ) -> None:
        self.parent = parent
        self.service = service
        self.method = method
        self.body = body
        self.response = response
        self.idempotent = idempotent
        self.timeout = timeout
        self.id = new_id()
        self.key: str | None = None
        self.clock: Clock = SYSTEM_CLOCK
        self.sent = 0
        """Attempts made so far (counted only while tracing or metrics are on)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Outgoing) and (self.service, self.method, self.body) == (
            other.service,
            other.method,
            other.body,
        )

    def __hash__(self) -> int:
        return hash((self.service, self.method, self.body))


def _split_target(target: str) -> tuple[str, str]:
    service, dot, method = target.partition(".")
    if not dot or not service or not method:
        raise CallError(f"a call target is 'service.method', not {target!r}")
    return service, method
