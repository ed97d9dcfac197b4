"""What a context reaches out with: calls, events and requests of one running App."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Coroutine
from typing import TYPE_CHECKING, Any

import msgspec

from interlink._codec import encode_any
from interlink._envelope import Envelope, format_time, new_id
from interlink._errors import DeadlineExceeded, PublishError
from interlink._tracecontext import child_traceparent
from interlink._wire import Outcome, outcome_to_error
from interlink.messaging._headers import STATUS as REPLY_STATUS
from interlink.runtime._stream_calls import start_stream

if TYPE_CHECKING:
    from interlink._clock import Clock
    from interlink._context import Context
    from interlink._handlers import Rpc
    from interlink.broker import Broker, Reply
    from interlink.messaging import Requester
    from interlink.resilience import Policy
    from interlink.runtime._calls import Calls
    from interlink.runtime._stream_calls import RpcStream
    from interlink.saga import SagaEngine

__all__ = ["Outbound"]

PUBLISH_TIMEOUT = 30.0
"""How long a publish keeps retrying a broker that does not acknowledge, without a deadline."""
_PUBLISH_PAUSE = 0.05


class Outbound:
    """Implements :class:`interlink._context.Outbound` for one running App."""

    def __init__(
        self,
        *,
        broker: Broker,
        requester: Requester,
        clock: Clock,
        publish_timeout: float = PUBLISH_TIMEOUT,
    ) -> None:
        self._broker = broker
        self._requester = requester
        self._clock = clock
        self._publish_timeout = publish_timeout
        self.calls: Calls
        self.sagas: SagaEngine | None = None

    def call(
        self,
        parent: Context,
        target: Rpc[Any, Any] | str,
        message: Any,
        returns: Any,
        timeout: float | None,
        policy: Policy | None = None,
        key: str | None = None,
    ) -> Coroutine[Any, Any, Any]:
        # Hands back the call itself instead of awaiting it: one frame less on every call.
        return self.calls.call(parent, target, message, returns, timeout, policy, key)

    def stream(
        self,
        parent: Context,
        target: Rpc[Any, Any] | str,
        message: Any,
        returns: Any,
        timeout: float | None,
    ) -> RpcStream[Any]:
        return start_stream(self.calls, parent, target, message, returns, timeout)

    def prepare_event(self, parent: Context, topic: str, message: Any, key: str | None) -> Envelope:
        deadline = parent.deadline
        return Envelope(
            id=new_id(),
            source=f"/{parent.service}",
            type=topic,
            specversion="1.0",
            time=format_time(self._clock.time()),
            traceparent=child_traceparent(parent.traceparent),
            tracestate=parent.tracestate,
            correlationid=parent.correlation_id,
            causationid=parent.message_id,
            partitionkey=key,
            deadline=None if deadline is None or math.isinf(deadline) else format_time(deadline),
            data=msgspec.Raw(encode_any(message)),
        )

    async def send_event(self, topic: str, envelope: Envelope, deadline: float | None) -> None:
        """Publish with the envelope id as the broker's message id. A publish that got no
        acknowledgement may have been stored: it is sent again with the same id (the broker
        drops the copy) until acknowledged, refused, or out of time."""
        body = envelope.to_bytes()
        limit = self._clock.time() + self._publish_timeout
        deadline = limit if deadline is None else min(deadline, limit)
        while True:
            try:
                await self._broker.publish(
                    topic, body, key=envelope.partitionkey, message_id=envelope.id
                )
                return
            except PublishError as exc:
                if not exc.maybe_stored or self._clock.time() + _PUBLISH_PAUSE >= deadline:
                    if exc.maybe_stored:
                        raise PublishError(
                            f"no acknowledgement for event {envelope.id} on {topic!r} before "
                            f"its deadline: it may have been stored ({exc})",
                            maybe_stored=True,
                        ) from exc
                    raise
            await self._clock.sleep(_PUBLISH_PAUSE)

    async def request(
        self,
        parent: Context,
        topic: str,
        message: Any,
        returns: Any,
        key: str | None,
        timeout: float,
        durable: bool = True,
    ) -> Any:
        now = self._clock.time()
        deadline = now + timeout if parent.deadline is None else min(parent.deadline, now + timeout)
        if deadline <= now:
            raise DeadlineExceeded(f"no time left to request {topic!r}")
        envelope = self.prepare_event(parent, topic, message, key)
        envelope.deadline = format_time(deadline)
        reply = await self.ask(topic, envelope, deadline - now, durable)
        status = int(reply.headers.get(REPLY_STATUS, "500" if durable else "200"))
        if status != 200:
            raise outcome_to_error(Outcome(status, reply.body), topic, "")
        return (
            msgspec.json.decode(reply.body)
            if returns is None
            else self.calls.codec(returns).decode(reply.body)
        )

    def ask(
        self, topic: str, envelope: Envelope, timeout: float, durable: bool
    ) -> Awaitable[Reply]:
        """Publish a request and wait for its reply."""
        if durable:
            return self._requester.request(topic, envelope, timeout)
        return self._requester.request_direct(topic, envelope, timeout)
