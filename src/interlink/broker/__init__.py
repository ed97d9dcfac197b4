"""Messaging: the Broker seam, its backends, and the consumer runtime above it."""

from interlink.broker._base import Broker, Delivery, Inbox, Reply, StoredMessage, Subscription
from interlink.broker._memory import MemoryBroker
from interlink.broker._urls import broker_from_url

__all__ = [
    "Broker",
    "Delivery",
    "Inbox",
    "MemoryBroker",
    "Reply",
    "StoredMessage",
    "Subscription",
    "broker_from_url",
]
