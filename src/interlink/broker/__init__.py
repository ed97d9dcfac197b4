"""The Broker seam and its backends (memory, NATS JetStream, Redis Streams, RabbitMQ,
Kafka) — nothing else.

Retries, dead letters, deduplication and request/reply live above it, in
:mod:`interlink.messaging`.
"""

from interlink.broker._base import (
    Broker,
    Delivery,
    DirectRequests,
    Inbox,
    Reply,
    StartFrom,
    StoredMessage,
    Subscription,
    SubscriptionStatistics,
    SubscriptionStats,
)
from interlink.broker._kafka import KafkaBroker, KafkaSettings
from interlink.broker._memory import MemoryBroker
from interlink.broker._nats import NatsBroker
from interlink.broker._nats_publish import PublishStalls
from interlink.broker._nats_streams import StreamSettings
from interlink.broker._rabbitmq import RabbitBroker, RabbitSettings
from interlink.broker._redis import RedisBroker
from interlink.broker._redis_layout import RedisSettings
from interlink.broker._urls import broker_from_url

__all__ = [
    "Broker",
    "Delivery",
    "DirectRequests",
    "Inbox",
    "KafkaBroker",
    "KafkaSettings",
    "MemoryBroker",
    "NatsBroker",
    "PublishStalls",
    "RabbitBroker",
    "RabbitSettings",
    "RedisBroker",
    "RedisSettings",
    "Reply",
    "StartFrom",
    "StoredMessage",
    "StreamSettings",
    "Subscription",
    "SubscriptionStatistics",
    "SubscriptionStats",
    "broker_from_url",
]
