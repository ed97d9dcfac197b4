"""A JetStream group's counts: the sum over its consumers (unkeyed messages, then one per
partition), from each consumer's info."""

from __future__ import annotations

from typing import TYPE_CHECKING

from interlink.broker._base import SubscriptionStats
from interlink.broker._nats_streams import consumer_name, stream_name

if TYPE_CHECKING:
    from nats.js import JetStreamContext

__all__ = ["group_stats"]


async def group_stats(js: JetStreamContext, topic: str, group: str) -> SubscriptionStats:
    import nats.js.errors

    base = consumer_name(group)
    pending = unacknowledged = 0
    found: list[object] = []
    try:
        while page := await js.consumers_info(stream_name(topic), offset=len(found)):
            found += page
            for info in page:
                name = info.name or ""
                if name == base or name.startswith(f"{base}_P"):
                    pending += info.num_pending or 0
                    unacknowledged += info.num_ack_pending or 0
    except nats.js.errors.NotFoundError:
        pass
    return SubscriptionStats(pending=pending, unacknowledged=unacknowledged)
