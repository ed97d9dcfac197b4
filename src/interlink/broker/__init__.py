"""Messaging: the Broker seam, its backends, and the consumer runtime above it."""

from interlink.broker._base import (
    Broker,
    Delivery,
    Inbox,
    Reply,
    StoredMessage,
    Subscription,
)
from interlink.broker._dedupe import (
    Dedupe,
    DedupeStore,
    MemoryDedupeStore,
    NatsDedupeStore,
    SqliteDedupeStore,
)
from interlink.broker._dlq import (
    DeadLetter,
    list_dead_letters,
    purge_dead_letters,
    replay_dead_letters,
)
from interlink.broker._memory import MemoryBroker
from interlink.broker._nats import NatsBroker
from interlink.broker._nats_streams import StreamSettings
from interlink.broker._urls import broker_from_url

__all__ = [
    "Broker",
    "DeadLetter",
    "Dedupe",
    "DedupeStore",
    "Delivery",
    "Inbox",
    "MemoryBroker",
    "MemoryDedupeStore",
    "NatsBroker",
    "NatsDedupeStore",
    "Reply",
    "SqliteDedupeStore",
    "StoredMessage",
    "StreamSettings",
    "Subscription",
    "broker_from_url",
    "list_dead_letters",
    "purge_dead_letters",
    "replay_dead_letters",
]
