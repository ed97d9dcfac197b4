"""Messaging above the Broker seam, once for every backend: the consumer runtime (acks,
retries, dead letters, key lanes, heartbeats), deduplication, request/reply, dead-letter tools,
replaying a topic's history to one group."""

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
    count_dead_letters,
    dead_letters_by_group,
    list_dead_letters,
    purge_dead_letters,
    replay_dead_letters,
)
from interlink.messaging._replay import Replayed, replay_history
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
    "Replayed",
    "Requester",
    "SqliteDedupeStore",
    "count_dead_letters",
    "dead_letters_by_group",
    "list_dead_letters",
    "purge_dead_letters",
    "replay_dead_letters",
    "replay_history",
]
