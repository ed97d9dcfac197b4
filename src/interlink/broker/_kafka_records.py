"""Kafka records: headers both ways, reading a topic from its start, and the reply inbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from interlink.broker._base import Reply, StoredMessage

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition  # type: ignore[import-untyped]

__all__ = [
    "ID_HEADER",
    "PURGED",
    "KafkaInbox",
    "encode_headers",
    "headers_of",
    "read_all",
    "retained",
]

PURGED = "purged:"
"""A removal record ``purged:<n>``: every ref up to ``n`` is gone; else the record is one ref."""

_REPLIES = 1024
"""Replies received and not yet taken by the inbox's reader; the fetch waits beyond it."""


ID_HEADER = "il-message-id"
"""The publisher's message id, kept on the record so ``read`` can skip a copy."""


def encode_headers(
    headers: Mapping[str, str] | None, message_id: str | None = None
) -> list[tuple[str, bytes]]:
    encoded = [(k, v.encode()) for k, v in (headers or {}).items()]
    if message_id is not None:
        encoded.append((ID_HEADER, message_id.encode()))
    return encoded


def headers_of(raw: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode() for k, v in raw or () if k != ID_HEADER}


def _message_id(record: ConsumerRecord[bytes, bytes]) -> str | None:
    for name, value in record.headers or ():
        if name == ID_HEADER:
            return bytes(value).decode()
    return None


async def read_all(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition]
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every retained record of the partitions up to their end now, oldest first per
    partition, with a started consumer of no group."""
    if not tps:
        return []
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    ends = await consumer.end_offsets(tps)
    records: list[ConsumerRecord[bytes, bytes]] = []
    async with asyncio.timeout(30):
        while True:
            # Read on past the end offsets until a fetch comes back empty: Tansu reports the
            # end of a partition short of the last records of its newest batch.
            batches = await consumer.getmany(*tps, timeout_ms=100)
            for batch in batches.values():
                records.extend(batch)
            if not batches and not [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                break
    return records


def retained(
    topic: str,
    records: list[ConsumerRecord[bytes, bytes]],
    removals: list[ConsumerRecord[bytes, bytes]],
) -> tuple[list[StoredMessage], int]:
    """The records of a one-partition topic not removed (``ref`` is the offset + 1), without
    copies (a later record with the message id of an earlier one), and the highest ref seen."""
    removed: set[int] = set()
    floor = 0
    for record in removals:
        mark = (record.value or b"").decode()
        if mark.startswith(PURGED):
            floor = max(floor, int(mark.removeprefix(PURGED)))
        else:
            removed.add(int(mark))
    stored: list[StoredMessage] = []
    end = 0
    seen: set[str] = set()
    for record in records:
        ref = record.offset + 1
        end = max(end, ref)
        message_id = _message_id(record)
        if message_id is not None:
            if message_id in seen:
                continue  # a copy published again with the same id (removed with the first)
            seen.add(message_id)
        if ref > floor and ref not in removed:
            key = None if record.key is None else record.key.decode()
            body = record.value or b""
            published = record.timestamp / 1000  # the producer's clock (CreateTime)
            headers = headers_of(record.headers)
            stored.append(StoredMessage(topic, body, key, headers, ref, published=published))
    return stored, end


class KafkaInbox:
    """A reply topic of one partition, read by a consumer of no group from its end."""

    def __init__(
        self, address: str, consumer: AIOKafkaConsumer, drop: Callable[[], Awaitable[Any]]
    ) -> None:
        self.address = address
        self._consumer = consumer
        self._drop = drop
        self._replies: asyncio.Queue[Reply | None] = asyncio.Queue(_REPLIES)
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        from aiokafka import TopicPartition

        tp = TopicPartition(self.address, 0)
        self._consumer.assign([tp])
        await self._consumer.seek_to_end(tp)
        await self._consumer.position(tp)
        self._task = asyncio.create_task(self._fetch(), name=f"kafka inbox {self.address}")

    async def _fetch(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000)
            for batch in batches.values():
                for record in batch:
                    await self._replies.put(Reply(headers_of(record.headers), record.value or b""))

    def __aiter__(self) -> KafkaInbox:
        return self

    async def __anext__(self) -> Reply:
        reply = await self._replies.get()
        if reply is None:
            self._replies.put_nowait(None)
            raise StopAsyncIteration
        return reply

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(Exception):
            await self._consumer.stop()
        with contextlib.suppress(Exception):
            await self._drop()
        while self._replies.full():
            self._replies.get_nowait()
        self._replies.put_nowait(None)
