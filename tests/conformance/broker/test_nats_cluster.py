"""On a 3-node JetStream cluster: one URL lists the servers, and what interlink creates is
kept on all three (R3) unless the URL says otherwise."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest

import interlink as il
from interlink.broker import NatsBroker, StreamSettings, broker_from_url
from interlink.broker._nats_cluster import server_list
from interlink.broker._nats_streams import stream_name
from interlink.messaging import NatsDedupeStore
from interlink.messaging._dedupe_nats import STREAM as DEDUPE_STREAM
from tests.conformance.broker.conftest import unique
from tests.conftest import NatsCluster, NatsServer, eventually


def test_a_url_lists_the_servers_of_a_cluster() -> None:
    assert server_list("nats://a:1,b:2,c:3") == ["nats://a:1", "nats://b:2", "nats://c:3"]
    assert server_list("tls://a:1,tls://b:2") == ["tls://a:1", "tls://b:2"]
    assert server_list("nats://a:1") == ["nats://a:1"]


def test_replicas_must_be_between_zero_and_five() -> None:
    assert StreamSettings().replicas == 0  # automatic
    with pytest.raises(il.ConfigurationError, match="replicas"):
        StreamSettings(replicas=6)
    with pytest.raises(il.ConfigurationError, match="replicas"):
        broker_from_url("nats://127.0.0.1:4222?replicas=-1")


async def _replicas(broker: NatsBroker, stream: str) -> int:
    info = await broker.jetstream.stream_info(stream)
    assert info.cluster is not None
    return 1 + len(info.cluster.replicas or [])


async def _consumer_replicas(broker: NatsBroker, stream: str, consumer: str) -> int:
    info = await broker.jetstream.consumer_info(stream, consumer)
    assert info.cluster is not None
    return 1 + len(info.cluster.replicas or [])


async def test_on_a_cluster_streams_and_consumers_keep_three_copies(
    nats_cluster: NatsCluster,
) -> None:
    topic = unique("cluster.r3")
    broker = broker_from_url(nats_cluster.url)
    assert isinstance(broker, NatsBroker)
    await broker.connect()
    try:
        assert broker.settings.replicas == 3
        sub = await broker.subscribe(topic, group="g", max_in_flight=1)
        await broker.publish(topic, b"one", key="k")
        async with asyncio.timeout(10):
            delivery = await anext(sub)
        await delivery.ack()
        await sub.close()
        await broker.publish(f"{topic}.dlq", b"dead")
        stream = stream_name(topic)
        assert await _replicas(broker, stream) == 3
        assert await _replicas(broker, stream_name(f"{topic}.dlq")) == 3
        names = [info.name for info in await broker.jetstream.consumers_info(stream)]
        assert len(names) == 1 + broker.settings.partitions  # the group's durables
        for name in names:
            assert await _consumer_replicas(broker, stream, name) == 3
        store = NatsDedupeStore()
        await store.open(broker)
        assert await _replicas(broker, DEDUPE_STREAM) == 3
    finally:
        await broker.close()


async def test_the_url_can_ask_for_one_copy_on_a_cluster(nats_cluster: NatsCluster) -> None:
    topic = unique("cluster.r1")
    broker = broker_from_url(nats_cluster.url + "?replicas=1")
    assert isinstance(broker, NatsBroker)
    await broker.connect()
    try:
        assert broker.settings.replicas == 1
        await broker.publish(topic, b"one")
        assert await _replicas(broker, stream_name(topic)) == 1
    finally:
        await broker.close()


async def test_a_single_server_gets_one_copy(nats_server: NatsServer) -> None:
    broker = broker_from_url(nats_server.url)
    assert isinstance(broker, NatsBroker)
    await broker.connect()
    try:
        assert broker.settings.replicas == 1
        await broker.publish(unique("single.r1"), b"one")
    finally:
        await broker.close()


async def test_an_embedded_cluster_is_shared_survives_a_node_and_stops_with_its_owner(
    tmp_path: Path,
) -> None:
    owner = broker_from_url("embedded?cluster=3&ack_wait=2", directory=str(tmp_path))
    other = broker_from_url("embedded?cluster=3", directory=str(tmp_path))
    assert isinstance(owner, NatsBroker)
    assert isinstance(other, NatsBroker)
    assert owner.settings.ack_wait == 2
    topic = unique("embedded.cluster") + ".dlq"  # limits retention: kept with no group
    await owner.connect()
    try:
        assert owner.settings.replicas == 3
        await owner.publish(topic, b"before")  # its R3 stream needs all three nodes up
        state = json.loads((tmp_path / "nats-cluster.json").read_text())
        assert len(state["pids"]) == 3
        os.kill(state["pids"][0], signal.SIGKILL)  # a drill: one node dies, two remain
        await other.connect()  # reuses the survivors, it does not start a second cluster
        try:
            assert json.loads((tmp_path / "nats-cluster.json").read_text()) == state
            await eventually(lambda: _answers(other), timeout=20)  # a new meta leader, if need be
            await other.publish(topic, b"after the kill")
            assert [m.body for m in await other.read(topic, limit=5)] == [
                b"before",
                b"after the kill",
            ]
        finally:
            await other.close()
        assert _running(state["pids"][1])  # the reuser stopped nothing
    finally:
        await owner.close()
    assert not any(_running(pid) for pid in state["pids"])
    assert not (tmp_path / "nats-cluster.json").exists()


def test_an_embedded_cluster_needs_three_nodes() -> None:
    with pytest.raises(il.ConfigurationError, match="cluster"):
        broker_from_url("embedded?cluster=2")


async def _answers(broker: NatsBroker) -> bool:
    try:
        await broker.jetstream.account_info()
    except Exception:  # no meta leader yet
        return False
    return True


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed child shows as defunct until it is reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(") ")[2][:1] not in ("Z", "X")


async def test_on_a_cluster_a_publish_without_an_id_gets_one_to_resend_with(
    nats_cluster: NatsCluster,
) -> None:
    topic = unique("cluster.ids") + ".dlq"  # limits retention: kept with no group
    broker = broker_from_url(nats_cluster.url)
    assert isinstance(broker, NatsBroker)
    await broker.connect()
    try:
        await broker.publish(topic, b"one")
        await broker.publish(topic, b"two")
        info = await broker.jetstream.stream_info(stream_name(topic))
        ids = [
            (await broker.jetstream.get_msg(stream_name(topic), seq)).headers or {}
            for seq in (info.state.first_seq, info.state.last_seq)
        ]
        assert all(headers.get("Nats-Msg-Id") for headers in ids)
        assert ids[0]["Nats-Msg-Id"] != ids[1]["Nats-Msg-Id"]
        assert broker.publish_stalls.stalls == 0
    finally:
        await broker.close()


async def test_on_a_cluster_a_publish_gives_up_after_its_publish_timeout(
    nats_cluster: NatsCluster,
) -> None:
    topic = unique("cluster.gone")
    broker = broker_from_url(nats_cluster.url + "?publish_timeout=0.5")
    assert isinstance(broker, NatsBroker)
    await broker.connect()
    try:
        sub = await broker.subscribe(topic, group="g", max_in_flight=1)
        await sub.close()
        await broker.jetstream.delete_stream(stream_name(topic))  # no responders from now on
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with asyncio.timeout(5):
            with pytest.raises(il.PublishError, match=r"within 0\.5s") as info:
                await broker.publish(topic, b"nobody stores this")
        assert 0.3 <= loop.time() - started < 2
        assert info.value.maybe_stored is False  # every send was answered "no responders"
        assert broker.publish_stalls.resent == 0
    finally:
        await broker.close()


async def test_on_a_cluster_a_refused_publish_is_not_resent(nats_cluster: NatsCluster) -> None:
    topic = unique("cluster.full")
    broker = broker_from_url(nats_cluster.url + "?max_bytes=300")
    assert isinstance(broker, NatsBroker)
    await broker.connect()
    try:
        sub = await broker.subscribe(topic, group="g", max_in_flight=1)
        async with asyncio.timeout(5):  # resending until publish_timeout would take 20 s
            with pytest.raises(il.PublishError, match="refused") as info:  # noqa: PT012
                for _ in range(100):
                    await broker.publish(topic, b"x" * 50)
        assert info.value.maybe_stored is False
        await sub.close()
    finally:
        await broker.close()
