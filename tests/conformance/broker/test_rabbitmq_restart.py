"""A RabbitMQ restart under a live broker: publishers and consumers come back by themselves.

The node is stopped cleanly and started again on the same ports and store, while one
``RabbitBroker`` stays connected: its subscription keeps yielding (what was unsettled comes
back, then what is published after), its publishes succeed again, and each partition queue
is still handed to the member one message at a time (a reconnect restores a channel's last
prefetch before its consumers, so the partition queues must not share the unkeyed queue's
channel).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

import interlink as il
from interlink.broker import Delivery
from interlink.broker._rabbitmq import RabbitBroker
from tests.conformance.broker.conftest import unique
from tests.conftest import RabbitServer, eventually


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitServer]:
    if shutil.which(RabbitServer.SCRIPT) is None:
        pytest.skip("rabbitmq-server is not installed; apt-get install -y rabbitmq-server")
    server = RabbitServer(str(tmp_path_factory.mktemp("rabbit-restart")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def broker(node: RabbitServer) -> AsyncIterator[RabbitBroker]:
    backend = RabbitBroker(node.url)
    await backend.connect()
    try:
        yield backend
    finally:
        await backend.close()


async def publish_until_accepted(broker: RabbitBroker, topic: str, body: bytes, **kw: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        try:
            await broker.publish(topic, body, **kw)
            return
        except il.PublishError:
            assert loop.time() < deadline, "the publisher never reconnected"
            await asyncio.sleep(0.05)


async def test_a_live_subscription_and_publisher_survive_a_restart_with_prefetch_kept(
    broker: RabbitBroker, node: RabbitServer
) -> None:
    topic, void = unique("restart.live"), unique("restart.void")
    sub = await broker.subscribe(topic, group="g", max_in_flight=16)
    for n in range(6):
        await broker.publish(topic, b"k%d" % n, key="one")
        await broker.publish(topic, b"u%d" % n)
    held: list[Delivery] = []

    async def read() -> None:
        async for delivery in sub:
            held.append(delivery)

    reader = asyncio.create_task(read())
    try:
        await eventually(lambda: len(held) == 7, timeout=30)  # the 6 unkeyed, and the key's first
        await asyncio.to_thread(node.stop)

        async def refused() -> bool:  # at once, and saying nothing was sent
            try:  # to a topic no queue takes from, so nothing can be stored for the group
                await broker.publish(void, b"while down")
            except il.PublishError as exc:
                return not exc.maybe_stored
            raise AssertionError("a publish was confirmed with the node down")

        await eventually(refused, timeout=30)
        await asyncio.to_thread(node.start)
        before = len(held)  # nothing settled: all come back to the same subscription
        fresh = lambda: held[before:]  # noqa: E731
        keyed = lambda: [d for d in fresh() if d.key is not None]  # noqa: E731
        await eventually(lambda: len(fresh()) >= 7, timeout=30)
        polls = 0

        def a_while() -> bool:  # give a wrong prefetch time to show
            nonlocal polls
            polls += 1
            return polls > 200

        await eventually(a_while)
        assert len(keyed()) == 1, "a partition queue handed out more than one message"
        assert sorted(d.body for d in fresh() if d.key is None) == [b"u%d" % n for n in range(6)]
        for n in range(6):  # settling the key's message brings its next, in order
            await eventually(lambda: len(keyed()) > n, timeout=30)  # noqa: B023
            assert len(keyed()) == n + 1
            assert keyed()[n].body == b"k%d" % n
            assert keyed()[n].attempt == (2 if n == 0 else 1)
            await keyed()[n].ack()
        await publish_until_accepted(broker, topic, b"fresh")
        await eventually(lambda: held[-1].body == b"fresh", timeout=30)
        for delivery in fresh():
            if delivery.key is None:
                await delivery.ack()
    finally:
        await sub.close()
        reader.cancel()
