"""A RabbitMQ group's counts: the ready messages of its queues (unkeyed, then one per
partition), from a passive declare. AMQP does not tell how many a queue has handed out and not
had back (only the management plugin's HTTP API does), so ``unacknowledged`` is ``None``."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from interlink.broker._base import SubscriptionStats

if TYPE_CHECKING:
    from aio_pika.abc import AbstractRobustConnection

__all__ = ["group_stats"]


async def group_stats(
    connection: AbstractRobustConnection, topic: str, group: str, partitions: int
) -> SubscriptionStats:
    import aio_pika.exceptions

    names = [f"il.{topic}.{group}", *(f"il.{topic}.{group}.p{n}" for n in range(partitions))]
    pending = 0
    for name in names:
        # A passive declare of a missing queue closes its channel: one channel per queue.
        channel = await connection.channel(publisher_confirms=False)
        try:
            queue = await channel.declare_queue(name, passive=True)
            pending += queue.declaration_result.message_count or 0
        except aio_pika.exceptions.ChannelClosed:
            continue
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
    return SubscriptionStats(pending=pending, unacknowledged=None)
