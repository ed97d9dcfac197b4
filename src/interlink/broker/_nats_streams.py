"""How topics, keys and groups map onto JetStream streams, subjects and durable consumers.

One stream per topic. An unkeyed message is published on the topic itself (so other NATS
clients can publish and subscribe with plain subjects); a keyed one on its partition's subject
``_IL.P.<n>.<topic>``, ``n`` a stable hash of the key modulo the stream's partition count. The
stream's subjects are ``[topic, "_IL.P.*.<topic>"]``: no two topics' subjects overlap, because
user topics may not start with ``_IL.``. The partition count is fixed when the stream is
created and kept in its metadata, so every process hashes a key to the same partition.

Each group has one durable consumer on the topic subject (unkeyed messages, shared by the
members) and one per partition with ``max_ack_pending=1``: JetStream hands out a partition's
next message only after the previous one was acked or terminated, and redelivers an unacked
one (its member died) before anything later. That is key order across members and crashes.

Topic streams use *interest* retention: a message is kept until every consumer with interest
in its subject (every group) has acknowledged it, and a publisher is refused (never silently
dropped) when a topic holds ``max_bytes`` of unacknowledged messages. With ``history`` set,
topic streams use *limits* retention instead: every message is kept for ``history`` seconds,
acknowledged or not (a history to start new groups from and to replay), and a publisher is
refused when a topic holds ``max_bytes``. Dead-letter topics
(``*.dlq``) use *limits* retention so they can be listed and replayed, kept for
``dead_letter_max_age``.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interlink._errors import ConfigurationError

if TYPE_CHECKING:
    from nats.js.api import StreamConfig

__all__ = [
    "AUTO_REPLICAS",
    "PARTITIONS_METADATA",
    "StreamSettings",
    "consumer_name",
    "key_partition",
    "partition_consumer",
    "partition_subject",
    "partitions_wildcard",
    "stream_config",
    "stream_name",
    "stream_partitions",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_RESERVED = "_IL."
PARTITIONS_METADATA = "interlink.partitions"
MAX_PARTITIONS = 1024
MAX_REPLICAS = 5
"""JetStream's own limit on a stream's replicas."""
AUTO_REPLICAS = 0


def _safe(text: str) -> str:
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{_UNSAFE.sub('_', text)[:200]}_{digest}"


def stream_name(topic: str) -> str:
    return f"IL_{_safe(topic)}"


def consumer_name(group: str) -> str:
    """The group's consumer of unkeyed messages; it always ends in ``_<8 hex digits>``."""
    return _safe(group)


def partition_consumer(base: str, partition: int) -> str:
    """The group's consumer of one partition (``_P<n>`` never looks like a group's digest)."""
    return f"{base}_P{partition}"


def key_partition(key: str, partitions: int) -> int:
    """Stable across processes and versions (not ``hash()``, which is salted per process)."""
    return zlib.crc32(key.encode()) % partitions


def partition_subject(topic: str, partition: int) -> str:
    return f"{_RESERVED}P.{partition}.{topic}"


def partitions_wildcard(topic: str) -> str:
    return f"{_RESERVED}P.*.{topic}"


@dataclass(frozen=True, kw_only=True, slots=True)
class StreamSettings:
    """Defaults for streams interlink creates on demand (documented in docs/messaging.md)."""

    max_bytes: int = 1 << 30
    max_age: float = 7 * 24 * 3600.0
    dead_letter_max_age: float = 14 * 24 * 3600.0
    duplicate_window: float = 120.0
    ack_wait: float = 30.0
    max_ack_pending: int = 10_000
    partitions: int = 8
    history: float = 0.0
    """Seconds a topic stream keeps every message, acknowledged or not (limits retention, in
    place of ``max_age``); 0: interest retention. Applies to streams created from now on."""
    replicas: int = AUTO_REPLICAS
    """Copies JetStream keeps of each stream and durable consumer interlink creates.
    ``AUTO_REPLICAS`` (0): 3 when the server is in a cluster of at least 3, else 1."""
    publish_timeout: float = 20.0
    """On a cluster, how long a publish keeps resending (same message id) through a leader
    election before it fails."""

    def __post_init__(self) -> None:
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ConfigurationError(
                f"partitions must be between 1 and {MAX_PARTITIONS}, not {self.partitions}"
            )
        if not 0 <= self.replicas <= MAX_REPLICAS:
            raise ConfigurationError(
                f"replicas must be between 1 and {MAX_REPLICAS} (0: automatic), not {self.replicas}"
            )
        if self.publish_timeout <= 0:
            raise ConfigurationError(
                f"publish_timeout must be positive, not {self.publish_timeout}"
            )


def stream_config(topic: str, settings: StreamSettings) -> dict[str, Any]:
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType

    if topic.startswith(_RESERVED):
        raise ConfigurationError(f"topic {topic!r}: names starting with {_RESERVED!r} are reserved")
    dead_letters = topic.endswith(".dlq")
    limits = dead_letters or settings.history > 0
    max_age = settings.max_age if settings.history <= 0 else settings.history
    return {
        "name": stream_name(topic),
        "subjects": [topic, partitions_wildcard(topic)],
        "storage": StorageType.FILE,
        "retention": RetentionPolicy.LIMITS if limits else RetentionPolicy.INTEREST,
        "discard": DiscardPolicy.OLD if dead_letters else DiscardPolicy.NEW,
        "max_bytes": settings.max_bytes,
        "max_age": settings.dead_letter_max_age if dead_letters else max_age,
        "duplicate_window": settings.duplicate_window,
        "num_replicas": max(1, settings.replicas),
        "metadata": {PARTITIONS_METADATA: str(settings.partitions)},
    }


def stream_partitions(config: StreamConfig, default: int) -> int:
    """The partition count a stream was created with (``default`` if it does not say)."""
    raw = (config.metadata or {}).get(PARTITIONS_METADATA, "")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_PARTITIONS else default
