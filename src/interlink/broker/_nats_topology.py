"""Finding or creating a topic's stream and a group's consumers on JetStream."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Literal

from interlink.broker._nats_credit import Lane
from interlink.broker._nats_read import first_at
from interlink.broker._nats_streams import (
    PARTITIONS_METADATA,
    StreamSettings,
    partition_consumer,
    partition_subject,
    partitions_wildcard,
    stream_config,
    stream_name,
    stream_partitions,
)

if TYPE_CHECKING:
    from nats.js import JetStreamContext
    from nats.js.api import ConsumerConfig, ConsumerInfo, StreamInfo

__all__ = ["ensure_group", "ensure_stream", "open_listener"]


async def ensure_stream(js: JetStreamContext, topic: str, settings: StreamSettings) -> int:
    """The topic's stream, created, found or brought up to date; returns its partition count."""
    import nats.js.errors

    try:
        info = await js.add_stream(**stream_config(topic, settings))
    except nats.js.errors.BadRequestError:
        # Created earlier (perhaps by another process, perhaps with other limits): use it.
        info = await js.stream_info(stream_name(topic))
        if partitions_wildcard(topic) not in (info.config.subjects or []):
            info = await _add_partitions(js, info, topic, settings)
    return stream_partitions(info.config, settings.partitions)


async def _add_partitions(
    js: JetStreamContext, info: StreamInfo, topic: str, settings: StreamSettings
) -> StreamInfo:
    """A stream from before partitions: add their subjects, then give each group it already
    has its partition consumers, so keyed messages wait for the group (a subject nobody has
    interest in would drop them)."""
    config = info.config
    config.subjects = [*(config.subjects or []), partitions_wildcard(topic)]
    config.metadata = {**(config.metadata or {}), PARTITIONS_METADATA: str(settings.partitions)}
    updated = await js.update_stream(config)
    partitions = stream_partitions(updated.config, settings.partitions)
    for consumer in await _consumers(js, stream_name(topic)):
        base = consumer.config.durable_name
        if base and consumer.config.filter_subject == topic:
            await ensure_group(js, topic, base, partitions, settings)
    return updated


async def _consumers(js: JetStreamContext, stream: str) -> list[ConsumerInfo]:
    found: list[ConsumerInfo] = []
    while page := await js.consumers_info(stream, offset=len(found)):
        found += page
    return found


Start = Literal["new", "earliest"] | float
"""Where consumers created now begin: after the last message, at the first retained one, or
at the first stored at or after a time (epoch seconds)."""


async def ensure_group(
    js: JetStreamContext,
    topic: str,
    base: str,
    partitions: int,
    settings: StreamSettings,
    start: Start = "new",
) -> list[Lane]:
    """A group's consumers — of unkeyed messages, then one per partition — created if missing.

    Those created together start at the same point, so a new group sees every message
    published after it was created (or retained since ``start``), keyed or not. Consumers that
    exist already keep their position.
    """
    stream = stream_name(topic)
    wanted = {base: (topic, settings.max_ack_pending)}
    for n in range(partitions):
        wanted[partition_consumer(base, n)] = (partition_subject(topic, n), 1)
    found = await asyncio.gather(*(_exists(js, stream, name) for name in wanted))
    missing = [name for name, exists in zip(wanted, found, strict=True) if not exists]
    if missing:
        first = await _first_sequence(js, stream, start)
        await asyncio.gather(
            *(
                _create(js, stream, _durable(name, *wanted[name], first, settings))
                for name in missing
            )
        )
    return [Lane(name, partition=name != base) for name in wanted]


async def open_listener(js: JetStreamContext, topic: str, settings: StreamSettings) -> Lane:
    """A private, non-durable consumer of every subject of the topic (keyed messages too); the
    server deletes it 30 s after its listener is gone."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    config = ConsumerConfig(
        name=uuid.uuid4().hex,
        deliver_policy=DeliverPolicy.NEW,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait,
        max_deliver=-1,
        max_ack_pending=settings.max_ack_pending,
        inactive_threshold=30.0,
    )
    await js.add_consumer(stream_name(topic), config=config)
    return Lane(str(config.name), partition=False)


async def _first_sequence(js: JetStreamContext, stream: str, start: Start) -> int:
    """The stream sequence new consumers start at. For a time it is found here, by the same
    search as ``read`` (not by JetStream's ``opt_start_time``), so a group started at a time
    gets exactly the messages ``read(since=…)`` returns."""
    state = (await js.stream_info(stream)).state
    if start == "new" or state.messages == 0:
        return int(state.last_seq) + 1
    if start == "earliest" or isinstance(start, str):
        return int(state.first_seq)
    return await first_at(js, stream, state.first_seq, state.last_seq, start)


def _durable(
    name: str, subject: str, max_ack_pending: int, start: int, settings: StreamSettings
) -> ConsumerConfig:
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    return ConsumerConfig(
        name=name,
        durable_name=name,
        filter_subject=subject,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=start,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait,
        max_deliver=-1,  # the runtime dead-letters; JetStream must never drop silently
        max_ack_pending=max_ack_pending,
        num_replicas=0,  # as many as its stream: R3 on an R3 stream, and valid on an old R1 one
    )


async def _exists(js: JetStreamContext, stream: str, name: str) -> bool:
    import nats.js.errors

    try:
        await js.consumer_info(stream, name)
    except nats.js.errors.NotFoundError:
        return False
    return True


async def _create(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    import nats.js.errors

    try:
        await js.add_consumer(stream, config=config)
    except nats.js.errors.BadRequestError:
        # Another member created it first, from another start: that one is the group's.
        await js.consumer_info(stream, str(config.name))
