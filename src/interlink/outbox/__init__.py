"""The SQL transactional outbox: events written in the same transaction as your data.

``outbox.publish(conn, ctx, topic, message)`` inserts the event on your own connection, inside
your own transaction; :class:`OutboxRelay` publishes what was committed, with the row id as the
broker's ``message_id`` so that a republish after a crash is dropped as a duplicate.
"""

from interlink.outbox._base import Claim, Outbox, OutboxRow
from interlink.outbox._postgres import PostgresOutbox
from interlink.outbox._relay import OutboxRelay
from interlink.outbox._sqlite import SqliteOutbox

__all__ = [
    "Claim",
    "Outbox",
    "OutboxRelay",
    "OutboxRow",
    "PostgresOutbox",
    "SqliteOutbox",
]
