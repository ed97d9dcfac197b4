"""Replaying a topic's history to one group: ``interlink replay TOPIC --from T --to-group G``."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import msgspec

from interlink._envelope import Envelope
from interlink._errors import CodecError
from interlink.broker import Broker, StoredMessage
from interlink.messaging import _headers as H

__all__ = ["Replayed", "replay_history"]


@dataclass(frozen=True, slots=True)
class Replayed:
    published: int
    """Messages published for the group (the broker drops those it saw within its window)."""
    skipped: int
    """Copies made by an earlier replay (of history or of dead letters): not replayed again."""
    limited: bool
    """True when ``limit`` messages were read: the window may hold more after the last one."""
    last: float | None
    """When the broker stored the last message read (epoch seconds)."""


async def replay_history(
    broker: Broker,
    topic: str,
    *,
    group: str,
    since: float | None,
    until: float | None = None,
    as_new: bool = False,
    limit: int = 10_000,
) -> Replayed:
    """Publish the retained messages of ``topic`` stored at or after ``since`` (None: the
    earliest) and before ``until`` back to ``topic``, for ``group`` only: its members handle
    them again, other groups' members acknowledge and skip them.

    Each copy keeps the message's key and headers, and by default its envelope (same id), so
    a group with ``Dedupe`` or an inbox skips what it already processed. With ``as_new`` the
    envelope gets a new id derived from the original id and the group (its ``causationid`` is
    the original id), so the group handles it again whatever it remembers. The broker message
    id is derived from the original id, the group and the mode: running the same replay twice
    within the broker's duplicate window publishes each message once.
    """
    found = await broker.read(topic, limit=limit, since=since, until=until)
    published = skipped = 0
    for message in found:
        if H.REPLAY_GROUP in message.headers:
            skipped += 1
            continue
        await _republish(broker, topic, message, group, as_new=as_new)
        published += 1
    last = found[-1].published if found else None
    return Replayed(published, skipped, limited=len(found) >= limit, last=last)


async def _republish(
    broker: Broker, topic: str, message: StoredMessage, group: str, *, as_new: bool
) -> None:
    body, origin = message.body, _origin(message.body)
    if as_new:
        body = _renamed(body, origin, group)
    headers = {k: v for k, v in message.headers.items() if k not in H.NOT_COPIED}
    headers[H.REPLAY_GROUP] = group
    # A failure of the copy is a new failure: its dead letter must not collide with one the
    # original may have left (dead-letter ids include the replay id).
    headers[H.REPLAY_ID] = f"history:{origin}"
    mode = "new" if as_new else "same"
    await broker.publish(
        topic,
        body,
        key=message.key,
        headers=headers,
        message_id=f"history:{group}:{mode}:{origin}",
    )


def _origin(body: bytes) -> str:
    try:
        return Envelope.from_bytes(body).id
    except CodecError:
        return hashlib.sha256(body).hexdigest()


def replayed_id(origin: str, group: str) -> str:
    """The envelope id of an ``as_new`` copy: the same for the same message and group."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"interlink:replay:{group}:{origin}"))


def _renamed(body: bytes, origin: str, group: str) -> bytes:
    try:
        envelope = Envelope.from_bytes(body)
    except CodecError:
        return body  # not an envelope: nothing to rename (its consumer dead-letters it)
    renamed = msgspec.structs.replace(envelope, id=replayed_id(origin, group), causationid=origin)
    return renamed.to_bytes()
