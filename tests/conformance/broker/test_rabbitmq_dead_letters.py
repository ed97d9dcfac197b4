"""RabbitMQ has no duplicate window, so a dead letter can be stored twice (the member lost the
ack of the original after the dead letter was confirmed, and dead-lettered it again): the
retained queue is read once per message id, and removing a message removes all its copies.
"""

from __future__ import annotations

from interlink.broker._rabbitmq import RabbitBroker
from tests.conformance.broker.conftest import unique
from tests.conftest import RabbitServer


async def test_copies_of_a_dead_letter_are_listed_once_and_removed_together(
    rabbitmq_server: RabbitServer,
) -> None:
    broker = RabbitBroker(rabbitmq_server.url)
    await broker.connect()
    try:
        dlq = unique("letters.t") + ".dlq"
        for body, message_id in [(b"a", "m1"), (b"b", "m2"), (b"a", "m1"), (b"c", None)]:
            await broker.publish(dlq, body, message_id=message_id)
        listed = await broker.read(dlq, limit=10)
        assert [m.body for m in listed] == [b"a", b"b", b"c"]
        assert [m.body for m in await broker.read(dlq, limit=2)] == [b"a", b"b"]
        await broker.remove(dlq, listed[0].ref)
        assert [m.body for m in await broker.read(dlq, limit=10)] == [b"b", b"c"]
        assert await broker.purge(dlq) == 2
    finally:
        await broker.close()
