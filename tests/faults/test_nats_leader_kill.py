"""The stream leader of a 3-node JetStream cluster SIGKILLed mid-load.

3,000 events (half keyed) go through interlink's NATS broker into a consumer process with an
inbox, four publishers at a time; the node leading the topic's stream, and (moved there first)
every consumer of the group, is killed after the first thousand are acknowledged, and restarted
after the last one is. It must end with: no
publish failed (each one waited for a new leader and was resent with its message id), every
event applied exactly once, keyed events in publish order, the consumer kept going on
consumers led elsewhere, the stall measured, and the restarted node caught up with the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import nats.errors
import pytest

import interlink as il
from interlink.broker import NatsBroker, broker_from_url
from interlink.broker._nats_streams import stream_name
from tests.conftest import NatsCluster, eventually
from tests.faults._fault_consumer import TOPIC
from tests.faults.test_fault_run import Consumer, effects

if TYPE_CHECKING:
    from nats.js.api import ConsumerInfo

EVENTS, PUBLISHERS, KILL_AFTER = 3_000, 4, 1_000
API_ERRORS = (nats.errors.Error, TimeoutError)


def key_of(n: int) -> str | None:
    return f"k{n % 40}" if n % 2 == 0 else None  # n % 4 follows from the key: one publisher each


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    running = NatsCluster(str(tmp_path / "cluster"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(240)
async def test_killing_the_stream_leader_loses_and_duplicates_nothing(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    database = tmp_path / "billing.db"
    consumer = Consumer(cluster.url + "?ack_wait=1", database, tmp_path)
    publisher = broker_from_url(cluster.url)
    assert isinstance(publisher, NatsBroker)
    await consumer.start()
    await publisher.connect()
    acked: set[int] = set()
    try:
        leader = await _leader(publisher)  # the consumer created the stream and its consumers
        await _move_consumer_leaders(publisher, leader)  # so its death moves theirs too
        publishing = [
            asyncio.create_task(_publish(publisher, range(i, EVENTS, PUBLISHERS), acked))
            for i in range(PUBLISHERS)
        ]
        await eventually(lambda: len(acked) >= KILL_AFTER, timeout=60)
        leader = await _leader(publisher)  # the same, unless it moved under load meanwhile
        cluster.kill(leader)
        killed = time.monotonic()
        await asyncio.gather(*publishing)  # a failed publish fails the test here
        published = restarted = time.monotonic()
        cluster.restart(leader)
        await eventually(lambda: _caught_up(publisher, leader), timeout=30)
        caught_up = time.monotonic() - restarted
        # A delivery the dead node handed out and never saw acknowledged comes back after the
        # consumer's ack_wait (30 s); a loaded machine may need that cycle more than once.
        await eventually(lambda: len(effects(database)) >= EVENTS, timeout=100)
    finally:
        consumer.stop()
        await publisher.close()
    stalls = publisher.publish_stalls
    rows = effects(database)
    counts = Counter(n for n, _ in rows)
    per_key: dict[str, list[int]] = defaultdict(list)
    for n, key in rows:
        if key:
            per_key[key].append(n)
    out_of_order = sum(1 for ns in per_key.values() for a, b in itertools.pairwise(ns) if b < a)
    print(
        f"leader kill: stalls={stalls.stalls} longest={stalls.longest:.2f}s "
        f"resent={stalls.resent} kill-to-last-ack={published - killed:.2f}s "
        f"catch-up={caught_up:.2f}s effects={len(rows)}"
    )
    assert acked == set(range(EVENTS))
    assert set(counts) == set(range(EVENTS)), "an acknowledged event was lost"
    assert max(counts.values()) == 1, "an event took effect twice"
    assert out_of_order == 0, f"{out_of_order} keyed effects out of publish order"
    assert stalls.stalls >= 1, "the leader's death held no publish up: the stall went unmeasured"
    assert 0 < stalls.longest < publisher.settings.publish_timeout


async def _publish(publisher: NatsBroker, ns: range, acked: set[int]) -> None:
    """In order, each acknowledged before the next (publish order is key order)."""
    for n in ns:
        envelope = il.Envelope(
            id=f"leader-{n}",
            source="/leader-kill",
            type=TOPIC,
            specversion="1.0",
            partitionkey=key_of(n),
            data=msgspec.Raw(msgspec.json.encode({"n": n, "key": key_of(n), "kind": "ok"})),
        )
        await publisher.publish(TOPIC, envelope.to_bytes(), key=key_of(n), message_id=envelope.id)
        acked.add(n)


async def _leader(broker: NatsBroker) -> str:
    info = await broker.jetstream.stream_info(stream_name(TOPIC))
    assert info.cluster is not None
    assert info.cluster.leader is not None
    return info.cluster.leader


async def _move_consumer_leaders(broker: NatsBroker, node: str) -> None:
    """Every consumer of the stream led by ``node`` (asked to step down to it until it is)."""
    stream = stream_name(TOPIC)

    async def all_there() -> bool:
        with contextlib.suppress(*API_ERRORS):  # a slow answer under load: ask again
            return await move(await broker.jetstream.consumers_info(stream))
        return False

    async def move(consumers: list[ConsumerInfo]) -> bool:
        moved = True
        for info in consumers:
            assert info.cluster is not None
            if info.cluster.leader != node:
                moved = False
                request = json.dumps({"placement": {"preferred": node}}).encode()
                subject = f"$JS.API.CONSUMER.LEADER.STEPDOWN.{stream}.{info.name}"
                await broker.connection.request(subject, request, timeout=5)
        return moved

    await eventually(all_there, timeout=20)


async def _caught_up(broker: NatsBroker, node: str) -> bool:
    """The restarted node is a current replica of the stream again, lagging by nothing."""
    try:
        info = await broker.jetstream.stream_info(stream_name(TOPIC))
    except API_ERRORS:  # the cluster is busy taking the node back: ask again
        return False
    assert info.cluster is not None
    peers = {peer.name: peer for peer in info.cluster.replicas or []}
    if info.cluster.leader == node:
        return True
    peer = peers.get(node)
    return peer is not None and bool(peer.current) and not peer.lag
