"""A Redis Streams group's counts, summed over the topic's streams (unkeyed, then one per
partition) from ``XINFO GROUPS``: ``lag`` (entries the group has not read) is pending,
the group's pending-entries list is unacknowledged (a message waiting out a nack's delay stays
in that list, so it counts there)."""

from __future__ import annotations

from typing import Any

from interlink.broker._base import SubscriptionStats

__all__ = ["group_stats"]


async def group_stats(client: Any, streams: list[str], group: str) -> SubscriptionStats:
    import redis.exceptions

    pending = unacknowledged = 0
    for stream in streams:
        try:
            infos = await client.xinfo_groups(stream)
        except redis.exceptions.ResponseError:  # no such stream yet
            continue
        for info in infos:
            name = info["name"]
            if (name.decode() if isinstance(name, bytes) else name) != group:
                continue
            pending += info.get("lag") or 0
            unacknowledged += info["pending"]
    return SubscriptionStats(pending=pending, unacknowledged=unacknowledged)
