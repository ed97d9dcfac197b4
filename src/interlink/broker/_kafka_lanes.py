"""A member's lanes (one per assigned partition) and the rebalance listener that makes them."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord, TopicPartition  # type: ignore[import-untyped]

    from interlink.broker._kafka_subscription import KafkaSubscription

__all__ = ["Lane", "decode_attempts", "key_of", "listener_for"]

_METADATA = 3000
"""Bytes of commit metadata at most (Kafka's default limit is 4096)."""


def decode_attempts(metadata: str) -> dict[int, int]:
    attempts: dict[int, int] = {}
    for item in metadata.split(","):
        offset, _, count = item.partition(":")
        if offset.isdigit() and count.isdigit():
            attempts[int(offset)] = int(count)
    return attempts


class Lane:
    """One assigned partition of one member."""

    def __init__(self, tp: TopicPartition, attempts: dict[int, int]) -> None:
        self.tp = tp
        self.waiting: deque[ConsumerRecord[bytes, bytes]] = deque()
        self.outstanding: set[int] = set()
        self.busy: set[str] = set()
        self.attempts = attempts
        self.next: int | None = None
        self.live = True
        self.committed: tuple[int, str] | None = None
        self.out = 0
        """Deliveries handed out and not yet settled."""

    def take(self) -> ConsumerRecord[bytes, bytes] | None:
        for index, record in enumerate(self.waiting):
            key = key_of(record)
            if key is None or key not in self.busy:
                del self.waiting[index]
                if key is not None:
                    self.busy.add(key)
                return record
        return None

    def watermark(self) -> tuple[int, str] | None:
        offset = min(self.outstanding) if self.outstanding else self.next
        if offset is None:
            return None
        handed = sorted((o, a) for o, a in self.attempts.items() if o >= offset)
        metadata = ",".join(f"{o}:{a}" for o, a in handed)[:_METADATA]
        return offset, metadata.rpartition(",")[0] if len(metadata) == _METADATA else metadata


def key_of(record: ConsumerRecord[bytes, bytes]) -> str | None:
    return None if record.key is None else record.key.decode()


def listener_for(sub: KafkaSubscription, fetch_attempts: Any) -> Any:
    """A rebalance listener: lanes for assigned partitions, commits for revoked ones."""
    from aiokafka import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: Any) -> None:
            await sub.revoke(list(revoked))

        async def on_partitions_assigned(self, assigned: Any) -> None:
            attempts: dict[Any, dict[int, int]] = await fetch_attempts(list(assigned))
            for tp in assigned:
                sub.take_back(tp, attempts.get(tp, {}))
            sub.assigned.set()

    return Listener()
