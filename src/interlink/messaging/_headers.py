"""Header names interlink puts on broker messages."""

from __future__ import annotations

import hashlib

from interlink.broker import _transient

REPLY_TO = _transient.REPLY_TO
"""Where a reply goes; a non-durable request's server gets it from the backend."""

REQUEST_ID = "x-interlink-request-id"
STATUS = "x-interlink-status"
ERROR_TYPE = "x-interlink-error-type"
ERROR_MESSAGE = "x-interlink-error-message"
ATTEMPTS = "x-interlink-attempts"
"""Handler runs in the delivery that gave up (each retry is a run)."""
DELIVERIES = "x-interlink-deliveries"
"""How many times the broker delivered it (more than one after a crash or a shutdown)."""
ORIGINAL_TOPIC = "x-interlink-original-topic"
GROUP = "x-interlink-group"
FIRST_FAILURE = "x-interlink-first-failure"
LAST_FAILURE = "x-interlink-last-failure"
REPLAY_GROUP = "x-interlink-replay-group"
"""On a replayed dead letter: only this group handles it; the others acknowledge and skip."""
REPLAY_ID = "x-interlink-replay-id"
"""On a replayed dead letter: one per replay, so failing again makes a new dead letter."""

DEAD_LETTER = (
    ERROR_TYPE,
    ERROR_MESSAGE,
    ATTEMPTS,
    DELIVERIES,
    ORIGINAL_TOPIC,
    GROUP,
    FIRST_FAILURE,
    LAST_FAILURE,
)
"""Added when a message is dead-lettered; removed again when it is replayed."""

NOT_COPIED = (REPLY_TO, REPLAY_GROUP, *DEAD_LETTER)
"""Headers of a delivery that its dead letter does not keep."""


def dead_letter_id(group: str, envelope_id: str | None, body: bytes, replay: str | None) -> str:
    """The broker message id of a dead letter: the same for the same failure of the same
    message (a crash before the term dead-letters it once), new for each replay."""
    origin = envelope_id or hashlib.sha256(body).hexdigest()
    return f"dlq:{group}:{origin}" + (f":{replay}" if replay else "")
