"""How topics and groups map onto JetStream streams and durable consumers.

One stream per topic, whose only subject is the topic itself (so other NATS clients can
publish and subscribe with plain subjects). Topic streams use *interest* retention: a message
is kept until every consumer group has acknowledged it, and a publisher is refused (never
silently dropped) when a topic holds ``max_bytes`` of unacknowledged messages. Dead-letter
topics (``*.dlq``) use *limits* retention so they can be listed and replayed, kept for
``dead_letter_max_age``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["StreamSettings", "consumer_name", "stream_config", "stream_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _safe(text: str) -> str:
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{_UNSAFE.sub('_', text)[:200]}_{digest}"


def stream_name(topic: str) -> str:
    return f"IL_{_safe(topic)}"


def consumer_name(group: str) -> str:
    return _safe(group)


@dataclass(frozen=True, kw_only=True, slots=True)
class StreamSettings:
    """Defaults for streams interlink creates on demand (documented in docs/messaging.md)."""

    max_bytes: int = 1 << 30
    max_age: float = 7 * 24 * 3600.0
    dead_letter_max_age: float = 14 * 24 * 3600.0
    duplicate_window: float = 120.0
    ack_wait: float = 30.0
    max_ack_pending: int = 10_000


def stream_config(topic: str, settings: StreamSettings) -> dict[str, Any]:
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType

    dead_letters = topic.endswith(".dlq")
    return {
        "name": stream_name(topic),
        "subjects": [topic],
        "storage": StorageType.FILE,
        "retention": RetentionPolicy.LIMITS if dead_letters else RetentionPolicy.INTEREST,
        "discard": DiscardPolicy.OLD if dead_letters else DiscardPolicy.NEW,
        "max_bytes": settings.max_bytes,
        "max_age": settings.dead_letter_max_age if dead_letters else settings.max_age,
        "duplicate_window": settings.duplicate_window,
    }
