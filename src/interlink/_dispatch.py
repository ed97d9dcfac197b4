"""The seam between what receives work (transports, consumers) and what runs it (the runtime).

A transport or a consumer is handed one :class:`Dispatcher` and its own settings; it never sees
the App or the runtime. The runtime implements it: it makes the handler's context, applies the
deadline, runs the handler, sends the events held back, and maps failures to outcomes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from interlink._envelope import Envelope
    from interlink._handlers import Route, Rpc, Subscriber
    from interlink._service import Service
    from interlink._wire import Outcome

__all__ = ["Dispatcher", "Serving"]


class Serving(Protocol):
    """A read-only view of the running App's state."""

    @property
    def draining(self) -> bool:
        """Stopping: take no new work."""
        ...

    @property
    def started(self) -> bool:
        """Everything is built and serving."""
        ...

    async def is_ready(self) -> bool:
        """Started, not draining, and every health check passes."""
        ...


class Dispatcher(Serving, Protocol):
    """Invoke an RPC or a route, handle a delivery."""

    @property
    def services(self) -> Mapping[str, Service]:
        """The services running in this process, by name."""
        ...

    def rpc(self, service: str, method: str) -> Rpc[Any, Any] | None: ...

    async def invoke_rpc(
        self,
        handler: Rpc[Any, Any],
        envelope: Envelope,
        body: bytes,
        *,
        peer: str | None = None,
        transport: str | None = None,
    ) -> Outcome:
        """Validate, run and encode; never raises for the handler's failure. ``peer`` is the
        caller's verified service identity (mutual TLS), checked against ``allow=``;
        ``transport`` is ``"tcp"`` or ``"unix"`` when the socket transport carried the call
        (None: HTTP or in-process), for tracing."""
        ...

    def invoke_stream(
        self,
        handler: Rpc[Any, Any],
        envelope: Envelope,
        body: bytes,
        *,
        peer: str | None = None,
        transport: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Validate and run a streaming handler, yielding each item encoded (``peer`` and
        ``transport`` as for :meth:`invoke_rpc`: a caller ``allow=`` leaves out is refused with
        403). Every failure
        (a bad request, the handler raising, the deadline) raises
        :class:`interlink._streaming.StreamFailed` with its outcome; closing the iterator
        closes the handler's generator."""
        ...

    async def invoke_route(
        self, route: Route, envelope: Envelope, kwargs: dict[str, Any], *, peer: str | None = None
    ) -> Outcome:
        """Run a REST handler with its bound arguments; never raises for its failure."""
        ...

    async def handle_delivery(
        self, subscriber: Subscriber[Any], envelope: Envelope, message: Any, *, replying: bool
    ) -> bytes | None:
        """Run a subscriber; its held-back events are sent once it returns. Returns the encoded
        reply when ``replying``. Raises what the handler raised."""
        ...
