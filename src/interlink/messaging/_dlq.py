"""Dead letters: list them, replay them to where they came from, purge them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from interlink._envelope import Envelope
from interlink._errors import CodecError
from interlink.broker import Broker, StoredMessage
from interlink.messaging import _headers as H

__all__ = [
    "DeadLetter",
    "count_dead_letters",
    "dead_letters_by_group",
    "list_dead_letters",
    "purge_dead_letters",
    "replay_dead_letters",
]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    ref: int
    envelope_id: str | None
    original_topic: str
    error_type: str
    error_message: str
    attempts: int
    """Handler runs in the delivery that gave up."""
    deliveries: int
    """Times the broker delivered it."""
    group: str
    first_failure: str
    last_failure: str
    message: StoredMessage


def dead_letter_topic(topic: str) -> str:
    return topic if topic.endswith(".dlq") else f"{topic}.dlq"


async def list_dead_letters(broker: Broker, topic: str, *, limit: int = 1000) -> list[DeadLetter]:
    """The dead letters of ``topic`` (or of the ``*.dlq`` topic named), oldest first."""
    dlq = dead_letter_topic(topic)
    return [_describe(m, dlq) for m in await broker.read(dlq, limit=limit)]


async def count_dead_letters(
    broker: Broker, topic: str, *, group: str | None = None, limit: int = 1000
) -> int:
    """How many dead letters ``topic`` has stored (only those ``group`` dead-lettered, when
    given), counting at most ``limit``: the count reads the messages back."""
    counts = await dead_letters_by_group(broker, topic, limit=limit)
    return counts.total() if group is None else counts[group]


async def dead_letters_by_group(broker: Broker, topic: str, *, limit: int = 1000) -> Counter[str]:
    """How many of ``topic``'s dead letters each group made, reading at most ``limit``."""
    messages = await broker.read(dead_letter_topic(topic), limit=limit)
    return Counter(m.headers.get(H.GROUP, "") for m in messages)


async def replay_dead_letters(
    broker: Broker, topic: str, *, envelope_id: str | None = None, limit: int = 1000
) -> int:
    """Publish dead letters back to their original topics, then remove them.

    Each goes back with its original envelope and key, without the failure headers, and only
    the group that dead-lettered it handles it again (the topic's other groups, which handled
    it the first time, acknowledge and skip it). With ``envelope_id``, only that one. Returns
    how many. A replay interrupted between its publish and the removal publishes the same
    broker message id next time, so the broker drops the copy.
    """
    replayed = 0
    for letter in await list_dead_letters(broker, topic, limit=limit):
        if envelope_id is not None and letter.envelope_id != envelope_id:
            continue
        headers = {k: v for k, v in letter.message.headers.items() if k not in H.NOT_COPIED}
        replay = f"{letter.message.topic}:{letter.ref}"
        headers[H.REPLAY_ID] = replay
        if letter.group:
            headers[H.REPLAY_GROUP] = letter.group
        await broker.publish(
            letter.original_topic,
            letter.message.body,
            key=letter.message.key,
            headers=headers,
            message_id=f"replay:{replay}",
        )
        await broker.remove(letter.message.topic, letter.ref)
        replayed += 1
    return replayed


async def purge_dead_letters(broker: Broker, topic: str) -> int:
    return await broker.purge(dead_letter_topic(topic))


def _describe(message: StoredMessage, dlq: str) -> DeadLetter:
    headers = message.headers
    try:
        envelope_id: str | None = Envelope.from_bytes(message.body).id
    except CodecError:
        envelope_id = None
    return DeadLetter(
        ref=message.ref,
        envelope_id=envelope_id,
        original_topic=headers.get(H.ORIGINAL_TOPIC, dlq.removesuffix(".dlq")),
        error_type=headers.get(H.ERROR_TYPE, ""),
        error_message=headers.get(H.ERROR_MESSAGE, ""),
        attempts=int(headers.get(H.ATTEMPTS, "0") or 0),
        deliveries=int(headers.get(H.DELIVERIES, "0") or 0),
        group=headers.get(H.GROUP, ""),
        first_failure=headers.get(H.FIRST_FAILURE, ""),
        last_failure=headers.get(H.LAST_FAILURE, ""),
        message=message,
    )
