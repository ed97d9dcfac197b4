"""The Broker seam: everything a messaging backend must do, and nothing more.

Retries, dead letters, decoding, deduplication, request/reply matching and tracing live above
this seam in the consumer runtime, once for every backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from interlink.broker._start import StartFrom

__all__ = [
    "Broker",
    "Delivery",
    "DirectRequests",
    "Inbox",
    "Reply",
    "StartFrom",
    "StoredMessage",
    "Subscription",
    "SubscriptionStatistics",
    "SubscriptionStats",
]


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as a topic retains it; ``ref`` addresses it for :meth:`Broker.remove`;
    ``published`` is when the broker stored it (epoch seconds, the broker's clock; 0.0 where
    the backend does not record it)."""

    topic: str
    body: bytes
    key: str | None
    headers: Mapping[str, str] = field(default_factory=dict)
    ref: int = 0
    published: float = 0.0


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

    async def in_progress(self) -> None:
        """Still working on it: restart the broker's redelivery timer, where it has one."""


@runtime_checkable
class Subscription(Protocol):
    """A stream of deliveries for one member of a consumer group.

    Iteration ends once :meth:`close` is called. Deliveries already handed out stay valid after
    close: the runtime finishes them (ack) or returns them (nack).
    """

    def __aiter__(self) -> Subscription: ...

    async def __anext__(self) -> Delivery: ...

    async def close(self) -> None: ...

    @property
    def heartbeat(self) -> float | None:
        """Seconds within which a delivery being worked on must be marked
        :meth:`Delivery.in_progress` again, or the broker gives it to another member (NATS:
        a third of ``ack_wait``); ``None`` when the broker never redelivers on its own."""
        ...


@dataclass(frozen=True, slots=True)
class Reply:
    headers: Mapping[str, str]
    body: bytes


@runtime_checkable
class Inbox(Protocol):
    """A private, non-durable address for replies (NATS ``_INBOX``; a memory queue)."""

    @property
    def address(self) -> str: ...

    def __aiter__(self) -> Inbox: ...

    async def __anext__(self) -> Reply: ...

    async def close(self) -> None: ...


@runtime_checkable
class Broker(Protocol):
    """Connect, publish, subscribe, reply, close; plus reading a topic back for dead letters."""

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
        message_id: str | None = None,
    ) -> None:
        """Return once the broker has accepted the message (durably, where it can).

        A ``message_id`` seen again within the broker's duplicate window is accepted and
        dropped: a publisher may retry without producing a second copy.
        """

    async def subscribe(
        self,
        topic: str,
        *,
        group: str | None,
        max_in_flight: int,
        start_from: StartFrom = "new",
    ) -> Subscription:
        """Join ``group`` on ``topic``. Every group sees every message published after it was
        first created, and keeps them while it has no member; members of one group share them.
        ``group=None`` is a private, non-durable listener (for ``interlink tail``).

        ``start_from`` matters only when this call creates the group (an existing group keeps
        its position): ``"new"`` (messages published from now on), ``"earliest"`` (also every
        message the topic still retains) or an aware ``datetime`` (also the retained messages
        the broker stored at or after it). A backend that retains nothing raises
        ``ConfigurationError`` for anything but ``"new"``.

        Messages with the same key are handed out in publish order, one at a time across the
        group: the next is handed out only once the previous one was acked or terminated, and
        a returned one (nacked, or its member died) comes back first. ``max_in_flight`` bounds
        what the broker has handed this member and not had settled (ack, nack or term)."""

    async def open_inbox(self) -> Inbox:
        """A private address to receive replies on."""

    async def send_reply(self, address: str, body: bytes, headers: Mapping[str, str]) -> None:
        """Send to an inbox address: fire-and-forget, not stored."""

    async def read(
        self,
        topic: str,
        *,
        limit: int,
        since: float | None = None,
        until: float | None = None,
    ) -> list[StoredMessage]:
        """Up to ``limit`` retained messages of ``topic``, oldest first; with ``since`` /
        ``until`` (epoch seconds) only those the broker stored at or after ``since`` and
        before ``until``. A backend that keeps no history of ``topic`` (RabbitMQ: all but
        dead-letter topics), or cannot tell when a message was stored, raises
        ``ConfigurationError`` rather than return nothing."""

    async def remove(self, topic: str, ref: int) -> None:
        """Delete one retained message (by its ``ref``)."""

    async def purge(self, topic: str) -> int:
        """Delete every retained message of ``topic``; returns how many."""


@runtime_checkable
class DirectRequests(Protocol):
    """Optional, beside :class:`Broker`: request/reply that stores nothing (``durable=False``).

    A backend that has such a path (NATS core request, RabbitMQ direct reply-to, Redis lists
    and pub/sub, memory) implements both methods; one without it (Kafka) does not, and the
    runtime refuses non-durable requests and subscriptions on it with a ``ConfigurationError``.
    A backend may also implement them and raise ``ConfigurationError`` when a server cannot.
    """

    async def serve_requests(self, topic: str, *, max_in_flight: int) -> Subscription:
        """Answer non-durable requests to ``topic``, shared with every other server of it
        (whatever its group): each request goes to one of them. A delivery carries the reply
        address under the ``x-interlink-reply-to`` header, for :meth:`Broker.send_reply`; its
        ``ack``, ``nack`` and ``term`` do nothing (nothing is stored, nothing comes back), and
        ``attempt`` is always 1. At most ``max_in_flight`` requests wait here unread."""

    async def request(self, topic: str, body: bytes, *, timeout: float) -> Reply:
        """Send ``body`` to one server of ``topic`` and return its reply. Raises
        ``ServiceUnavailable`` at once when nobody serves ``topic``, ``TimeoutError`` when no
        reply came within ``timeout`` seconds (the server may have run it)."""


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    """Where one consumer group of one topic stands, as the broker counts it right now.

    ``pending``: messages the broker holds for the group that no member has been handed yet
    (Kafka: past the group's committed offsets, so handed-out unacknowledged ones too).
    ``unacknowledged``: handed to a member and not yet acked, nacked or terminated; ``None``
    where the broker does not say (RabbitMQ without its management plugin, Kafka).
    """

    pending: int
    unacknowledged: int | None


@runtime_checkable
class SubscriptionStatistics(Protocol):
    """Optional, beside :class:`Broker` (every bundled backend has it): a group's counts."""

    async def subscription_stats(self, topic: str, group: str) -> SubscriptionStats:
        """The group's counts; zeros for a topic or group the broker does not know."""
