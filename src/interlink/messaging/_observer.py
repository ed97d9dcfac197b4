"""What a consumer tells about each delivery it takes and settles (tracing records it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from interlink._envelope import Envelope

__all__ = ["DeliveryObserver", "SettleObserver"]


class SettleObserver(Protocol):
    def finish(self, error: BaseException | None) -> None:
        """The broker answered the settlement (``error``: it failed)."""
        ...


class DeliveryObserver(Protocol):
    def received(self, envelope: Envelope | None, started: int, attempt: int) -> None:
        """A delivery taken at ``started`` (``time.time_ns()``) was decoded (None: could not)."""
        ...

    def settling(self, envelope: Envelope | None, how: str, delay: float) -> SettleObserver | None:
        """A delivery is about to be settled: ``how`` is ``ack``, ``nack`` or ``term``."""
        ...
