"""The Broker seam: everything a messaging backend must do, and nothing more.

Retries, dead letters, decoding, deduplication and tracing live above this seam in the
consumer runtime, once for every backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

__all__ = ["Broker", "Delivery", "Subscription"]


@runtime_checkable
class Delivery(Protocol):
    """One delivery of one message to one consumer group member."""

    @property
    def topic(self) -> str: ...

    @property
    def body(self) -> bytes: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def key(self) -> str | None: ...

    @property
    def attempt(self) -> int:
        """1 for the first delivery, 2 for the first redelivery, and so on."""
        ...

    async def ack(self) -> None:
        """Processed: never deliver again."""

    async def nack(self, delay: float = 0.0) -> None:
        """Not processed: deliver again (to any member of the group) after ``delay`` seconds."""

    async def term(self) -> None:
        """Give up on it without processing: never deliver again."""


@runtime_checkable
class Subscription(Protocol):
    """A stream of deliveries for one member of a consumer group.

    Iteration ends once :meth:`close` is called. Deliveries already handed out stay valid after
    close: the runtime finishes them (ack) or returns them (nack).
    """

    def __aiter__(self) -> Subscription: ...

    async def __anext__(self) -> Delivery: ...

    async def close(self) -> None: ...


@runtime_checkable
class Broker(Protocol):
    """Connect, publish, subscribe, close."""

    url: str

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Return once the broker has accepted the message (durably, where it can)."""

    async def subscribe(self, topic: str, *, group: str, max_in_flight: int) -> Subscription:
        """Join ``group`` on ``topic``. Every group sees every message published from now on;
        members of one group share them. ``max_in_flight`` bounds unacknowledged deliveries."""
