"""Delayed returns kept by RabbitMQ, not by the member: a queue per group and delay bucket.

``nack(delay)`` of a message from a group's unkeyed queue publishes a copy (publisher confirm
awaited) to ``<group queue>.delay<ms>``, a durable classic queue whose messages live ``ms``
milliseconds and then are dead-lettered, by the server, through the default exchange back to
the group queue; only then is the original acked. The member holds nothing while the delay
runs, so a member that crashes meanwhile loses nothing, and the copy carries the number of
deliveries so far, so ``attempt`` keeps counting. The delay is rounded up to the next bucket
of ``BUCKETS`` (longer delays wait the last one).
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

__all__ = ["ATTEMPTS_HEADER", "BUCKETS", "DelayQueues", "bucket_of"]

ATTEMPTS_HEADER = "x-il-attempts"
"""Deliveries of the message before it went through a delay queue."""

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""Delays, in seconds, each with its own queue per group."""


def bucket_of(delay: float) -> float:
    """The smallest bucket at least ``delay`` long (the last one for longer delays)."""
    return BUCKETS[min(bisect.bisect_left(BUCKETS, delay), len(BUCKETS) - 1)]


class DelayQueues:
    """Sends messages through the delay queues, on a channel with publisher confirms."""

    def __init__(self, channel: AbstractChannel) -> None:
        self._channel = channel
        self._declared: set[str] = set()  # at most len(BUCKETS) per group queue

    async def send_back(
        self, queue: str, message: AbstractIncomingMessage, delay: float, attempts: int
    ) -> None:
        """Have ``message`` come back to ``queue`` after ``delay`` (rounded up to a bucket),
        as its ``attempts + 1``-th delivery. Returns once RabbitMQ confirmed the copy."""
        import aio_pika

        milliseconds = round(bucket_of(delay) * 1000)
        name = f"{queue}.delay{milliseconds}"
        if name not in self._declared:
            await self._channel.declare_queue(
                name,
                durable=True,
                arguments={
                    "x-message-ttl": milliseconds,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": queue,
                },
            )
            self._declared.add(name)
        headers: dict[str, Any] = dict(message.headers or {})
        headers.pop("x-delivery-count", None)
        headers.pop("x-death", None)  # grows by one entry per trip otherwise
        headers[ATTEMPTS_HEADER] = attempts
        copy = aio_pika.Message(
            message.body,
            headers=headers,
            message_id=message.message_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self._channel.default_exchange.publish(copy, name)
