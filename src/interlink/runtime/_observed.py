"""The call and message paths with tracing and metrics: subclasses of the plain ones.

The runtime builds these only when the App's telemetry is on, so with it off the plain
classes run and not one branch of this module is taken.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from interlink._errors import BulkheadFull, CallNotPermitted
from interlink._handlers import Rpc
from interlink._streaming import StreamFailed
from interlink._wire import Outcome
from interlink.observe._calls import ClientCall, ServerCall
from interlink.observe._messages import Process, Send, create
from interlink.observe._streams import CANCELLED, COMPLETED, FAILED, ClientStream, ServerStream
from interlink.observe._trace import SERVING as _SERVING
from interlink.runtime._calls import Calls, Outgoing
from interlink.runtime._inbound import Inbound
from interlink.runtime._outbound import Outbound

if TYPE_CHECKING:
    from interlink._context import Context, Transactions
    from interlink._envelope import Envelope
    from interlink._handlers import Route, Subscriber
    from interlink.broker import Reply
    from interlink.observe import Telemetry
    from interlink.resilience import Policy

__all__ = ["ObservedCalls", "ObservedInbound", "ObservedOutbound"]


class ObservedInbound(Inbound):
    def __init__(self, *args: Any, telemetry: Telemetry, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.telemetry = telemetry

    def context(
        self,
        service: str,
        envelope: Envelope,
        deadline: float | None,
        transactions: Transactions | None = None,
        peer: str | None = None,
    ) -> Context:
        ctx = super().context(service, envelope, deadline, transactions, peer)
        serving = _SERVING.get()
        if serving is not None:  # the handler's calls and events are children of its span
            ctx.traceparent = serving
        return ctx

    async def invoke_rpc(
        self,
        handler: Rpc[Any, Any],
        envelope: Envelope,
        body: bytes,
        *,
        peer: str | None = None,
        transport: str | None = None,
    ) -> Outcome:
        route = f"/rpc/{handler.service}/{handler.name}"
        serving = ServerCall(
            self.telemetry, envelope, handler.service, "POST", route, socket=transport
        )
        token = _SERVING.set(serving.traceparent)
        try:
            outcome = await super().invoke_rpc(handler, envelope, body, peer=peer)
        except BaseException as exc:
            serving.finish(500, b"", exc)
            raise
        finally:
            _SERVING.reset(token)
        serving.finish(outcome.status, outcome.body)
        return outcome

    async def invoke_route(
        self, route: Route, envelope: Envelope, kwargs: dict[str, Any], *, peer: str | None = None
    ) -> Outcome:
        serving = ServerCall(self.telemetry, envelope, route.service, route.method, route.path)
        token = _SERVING.set(serving.traceparent)
        try:
            outcome = await super().invoke_route(route, envelope, kwargs, peer=peer)
        except BaseException as exc:
            serving.finish(500, b"", exc)
            raise
        finally:
            _SERVING.reset(token)
        serving.finish(outcome.status, outcome.body)
        return outcome

    def invoke_stream(
        self,
        handler: Rpc[Any, Any],
        envelope: Envelope,
        body: bytes,
        *,
        peer: str | None = None,
        transport: str | None = None,
    ) -> AsyncIterator[bytes]:
        route = f"/rpc/{handler.service}/{handler.name}"
        items = super().invoke_stream(handler, envelope, body, peer=peer)
        return _served(
            lambda: ServerStream(self.telemetry, envelope, handler.service, route, transport),
            items,
        )

    async def handle_delivery(
        self, subscriber: Subscriber[Any], envelope: Envelope, message: Any, *, replying: bool
    ) -> bytes | None:
        group = subscriber.group or ""
        run = Process(self.telemetry, envelope, subscriber.topic, group, subscriber.service)
        token = _SERVING.set(run.traceparent)
        try:
            reply = await super().handle_delivery(subscriber, envelope, message, replying=replying)
        except BaseException as exc:
            run.finish(exc)
            raise
        finally:
            _SERVING.reset(token)
        run.finish(None)
        return reply


async def _served(
    start: Callable[[], ServerStream], items: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    """``items`` as they come, each step of the handler (its context made in the first)
    under the stream's span, started when the first item is asked for."""
    serving = start()
    how, failure = CANCELLED, None
    try:
        while True:
            token = _SERVING.set(serving.traceparent)
            try:
                item = await anext(items)
            except StopAsyncIteration:
                how = COMPLETED
                return
            except StreamFailed as exc:
                how, failure = FAILED, exc.outcome
                raise
            except Exception:
                how, failure = FAILED, Outcome(500, b"")
                raise
            finally:
                _SERVING.reset(token)
            serving.items += 1
            yield item
    finally:
        try:
            if how != COMPLETED:
                await items.aclose()  # type: ignore[attr-defined]
        finally:
            serving.ended(how, failure)


class ObservedCalls(Calls):
    def __init__(self, *args: Any, telemetry: Telemetry, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.telemetry = telemetry

    def watch_stream(self, parent: Context, service: str, method: str) -> ClientStream:
        return ClientStream(self.telemetry, parent, service, method)

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
        try:
            return await super().call(parent, target, message, returns, timeout, policy, key)
        except (CallNotPermitted, BulkheadFull) as exc:  # the policy refused: nothing was sent
            name = target.target if isinstance(target, Rpc) else target
            service, _, method = name.partition(".")
            refused = ClientCall(self.telemetry, parent, service, method, 0)
            refused.refused(exc)
            raise

    async def _attempt(
        self,
        deadline: float | None,
        out: Outgoing,
        *,
        bounded: bool = False,
        observer: ClientCall | None = None,
    ) -> Any:
        attempt = ClientCall(self.telemetry, out.parent, out.service, out.method, out.sent)
        out.sent += 1
        try:
            result = await super()._attempt(deadline, out, bounded=bounded, observer=attempt)
        except BaseException as exc:
            attempt.finish(exc)
            raise
        attempt.finish(None)
        return result


class ObservedOutbound(Outbound):
    def __init__(self, *args: Any, telemetry: Telemetry, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.telemetry = telemetry

    def prepare_event(self, parent: Context, topic: str, message: Any, key: str | None) -> Envelope:
        envelope = super().prepare_event(parent, topic, message, key)
        create(self.telemetry, parent, topic, envelope)
        return envelope

    async def send_event(self, topic: str, envelope: Envelope, deadline: float | None) -> None:
        sending = Send(self.telemetry, topic, envelope)
        try:
            await super().send_event(topic, envelope, deadline)
        except BaseException as exc:
            sending.finish(exc)
            raise
        sending.finish(None)

    async def ask(self, topic: str, envelope: Envelope, timeout: float, durable: bool) -> Reply:
        asking = Send(self.telemetry, topic, envelope, metered=False)
        try:
            reply = await super().ask(topic, envelope, timeout, durable)
        except BaseException as exc:
            asking.finish(exc)
            raise
        asking.finish(None)
        return reply
