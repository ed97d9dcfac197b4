"""Header names interlink puts on broker messages."""

REPLY_TO = "x-interlink-reply-to"
REQUEST_ID = "x-interlink-request-id"
STATUS = "x-interlink-status"
ERROR_TYPE = "x-interlink-error-type"
ERROR_MESSAGE = "x-interlink-error-message"
ATTEMPTS = "x-interlink-attempts"
ORIGINAL_TOPIC = "x-interlink-original-topic"
GROUP = "x-interlink-group"
FIRST_FAILURE = "x-interlink-first-failure"
LAST_FAILURE = "x-interlink-last-failure"

DEAD_LETTER = (
    ERROR_TYPE,
    ERROR_MESSAGE,
    ATTEMPTS,
    ORIGINAL_TOPIC,
    GROUP,
    FIRST_FAILURE,
    LAST_FAILURE,
)
"""Added when a message is dead-lettered; removed again when it is replayed."""
