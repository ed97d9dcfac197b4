"""Messaging above the Broker seam, once for every backend: the consumer runtime (acks,
retries, dead letters, key lanes, heartbeats), deduplication, request/reply, dead-letter tools."""

from interlink.messaging._consumer import AlreadyProcessed, Consumer, PoisonMessage
from interlink.messaging._dedupe import (
    Claim,
    Dedupe,
    DedupeStore,
    MemoryDedupeStore,
    SqliteDedupeStore,
)
from interlink.messaging._dedupe_nats import NatsDedupeStore
from interlink.messaging._dlq import (
    DeadLetter,
    list_dead_letters,
    purge_dead_letters,
    replay_dead_letters,
)
from interlink.messaging._requests import Requester

__all__ = [
    "AlreadyProcessed",
    "Claim",
    "Consumer",
    "DeadLetter",
    "Dedupe",
    "DedupeStore",
    "MemoryDedupeStore",
    "NatsDedupeStore",
    "PoisonMessage",
    "Requester",
    "SqliteDedupeStore",
    "list_dead_letters",
    "purge_dead_letters",
    "replay_dead_letters",
]
