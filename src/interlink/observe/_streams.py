"""Streaming RPCs in the trace: one CLIENT span per ``ctx.stream`` and one SERVER span per
stream served, each with the number of items and how the stream ended, and one observation in
the call duration histograms each.

How a stream ends (``interlink.stream.end``): ``completed`` (every item was sent or read),
``cancelled`` (the caller stopped reading, or the work was cancelled), ``failed`` (the handler,
the transport or the deadline raised an error).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlink.observe._calls import ClientCall, ServerCall

if TYPE_CHECKING:
    from interlink._context import Context
    from interlink._envelope import Envelope
    from interlink._wire import Outcome
    from interlink.observe._telemetry import Telemetry

__all__ = ["ClientStream", "ServerStream"]

COMPLETED, CANCELLED, FAILED = "completed", "cancelled", "failed"


class ClientStream(ClientCall):
    """The calling side of one stream: from ``ctx.stream(...)`` until it ends (the retries of
    its opening included)."""

    __slots__ = ("_ended", "items")

    def __init__(self, telemetry: Telemetry, parent: Context, service: str, method: str) -> None:
        super().__init__(telemetry, parent, service, method, 0)
        self.items = 0
        self._ended = False

    def item(self) -> None:
        self.items += 1

    def ended(self, how: str, error: BaseException | None = None) -> None:
        """Once: later calls are ignored."""
        if self._ended:
            return
        self._ended = True
        if how != FAILED or self.items:
            self.status = 200
        self.note({"interlink.stream.items": self.items, "interlink.stream.end": how})
        self.finish(error if how == FAILED else None)


class ServerStream(ServerCall):
    """The serving side of one stream, until its last item was taken, it failed, or the
    caller closed it."""

    __slots__ = ("items",)

    def __init__(
        self, telemetry: Telemetry, envelope: Envelope, service: str, route: str, socket: str | None
    ) -> None:
        super().__init__(telemetry, envelope, service, "POST", route, socket)
        self.items = 0

    def ended(self, how: str, outcome: Outcome | None = None) -> None:
        """``outcome``: the failure's answer (``failed``); a stream that ends otherwise is
        recorded with status 200."""
        self.note({"interlink.stream.items": self.items, "interlink.stream.end": how})
        if outcome is None:
            self.finish(200, b"")
        else:
            self.finish(outcome.status, outcome.body)
