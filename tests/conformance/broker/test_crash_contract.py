"""Crashes lose nothing: a consumer killed mid-message, a broker restarted mid-publish.

Only for brokers that outlive a process (a memory broker dies with its process).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

import interlink as il
from interlink.broker import broker_from_url
from tests.conformance.broker.conftest import SERVERS, unique
from tests.conftest import NatsServer, RabbitServer, RedisServer, eventually

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("kind", ["nats", "embedded", "redis", "rabbitmq", "nats-cluster", "kafka"])
async def test_a_consumer_killed_mid_handler_leaves_the_message_to_another(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if kind in SERVERS:
        spec = request.getfixturevalue(SERVERS[kind]).url
        spec += {"rabbitmq": "", "kafka": "?session_timeout=2"}.get(kind, "?ack_wait=1")
        directory = str(tmp_path)
    else:
        spec, directory = "embedded?ack_wait=1", request.getfixturevalue("embedded_dir")
    topic = unique("crash.t")
    marker = tmp_path / "marker"
    script = Path(__file__).with_name("_killable_consumer.py")
    with subprocess.Popen(
        [sys.executable, str(script), spec, directory, topic, str(marker)], cwd=ROOT
    ) as victim:
        try:
            await eventually(lambda: marker.exists() and marker.read_text() == "ready", timeout=20)
            publisher = broker_from_url(spec, directory=directory)
            await publisher.connect()
            try:
                envelope = il.Envelope(
                    id=unique("id"),
                    source="/test",
                    type=topic,
                    specversion="1.0",
                    data=msgspec.Raw(b'{"n": 1}'),
                )
                await publisher.publish(topic, envelope.to_bytes())
            finally:
                await publisher.close()
            # The victim is the group's only member: it takes the message and hangs in it.
            await eventually(lambda: marker.read_text() == f"started {envelope.id}", timeout=10)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)

            handled: list[str | None] = []
            svc = il.Service("crashers")  # the same group as the victim

            @svc.subscribe(topic)
            async def survive(job: dict[str, int], ctx: il.Context) -> None:
                handled.append(ctx.message_id)

            async with il.App([svc], broker=spec, serve_http=False, directory=directory):
                await eventually(lambda: handled == [envelope.id], timeout=15)
        finally:
            if victim.poll() is None:
                victim.kill()


@pytest.mark.parametrize("kind", ["nats", "redis", "rabbitmq"])
async def test_no_acknowledged_publish_is_lost_across_a_broker_restart(
    kind: str, request: pytest.FixtureRequest
) -> None:
    server: NatsServer | RedisServer | RabbitServer = request.getfixturevalue(SERVERS[kind])
    topic = unique("restart.t")
    spec = server.url + ("" if kind == "rabbitmq" else "?ack_wait=1")
    received: set[int] = set()
    svc = il.Service(unique("survivor"))

    @svc.subscribe(topic, group="survivors", max_in_flight=64)
    async def keep(job: dict[str, int]) -> None:
        received.add(job["n"])

    async with il.App([svc], broker=spec, serve_http=False):
        pass  # the group now exists, so the stream keeps messages for it

    publisher = broker_from_url(spec)
    await publisher.connect()
    acknowledged: list[int] = []

    async def publish_all() -> None:
        loop = asyncio.get_running_loop()
        for n in range(300):
            deadline = loop.time() + 20
            while True:
                try:
                    envelope = il.Envelope(
                        id=f"m{n}",
                        source="/test",
                        type=topic,
                        specversion="1.0",
                        data=msgspec.Raw(f'{{"n": {n}}}'.encode()),
                    )
                    await publisher.publish(topic, envelope.to_bytes(), message_id=f"m{n}")
                    acknowledged.append(n)
                    break
                except il.PublishError:
                    assert loop.time() < deadline, "the broker never came back"
                    await asyncio.sleep(0.05)

    try:
        publishing = asyncio.create_task(publish_all())
        await eventually(lambda: len(acknowledged) >= 100, timeout=20)
        await asyncio.to_thread(server.restart)
        await publishing
    finally:
        await publisher.close()
    assert len(acknowledged) == 300
    async with il.App([svc], broker=spec, serve_http=False):
        await eventually(lambda: set(acknowledged) <= received, timeout=20)
