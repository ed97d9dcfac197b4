"""What a failed NATS publish says about the message: refused (not stored), or sent with no
acknowledgement back (``maybe_stored``: a retry must reuse its message id)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

import interlink as il
from interlink.broker import NatsBroker
from tests.conformance.broker.conftest import make_broker, unique
from tests.conftest import NatsServer, eventually


async def test_a_refused_publish_was_not_stored(
    request: pytest.FixtureRequest,
) -> None:
    topic = unique("publish.full")
    broker = make_broker(request, "nats", "?max_bytes=300")
    await broker.connect()
    try:
        sub = await broker.subscribe(topic, group="g", max_in_flight=1)
        with pytest.raises(il.PublishError) as info:  # noqa: PT012 - fill it until refused
            for _ in range(100):
                await broker.publish(topic, b"x" * 50)
        assert info.value.maybe_stored is False
        await sub.close()
    finally:
        await broker.close()


async def test_a_publish_without_acknowledgement_may_have_been_stored(
    nats_server: NatsServer,
) -> None:
    topic = unique("publish.noack")
    broker = NatsBroker(nats_server.url, request_timeout=0.5)
    await broker.connect()
    assert nats_server.process is not None
    pid = nats_server.process.pid
    try:
        sub = await broker.subscribe(topic, group="g", max_in_flight=1)
        try:
            os.kill(pid, signal.SIGSTOP)  # the server takes the message but cannot answer
            await eventually(lambda: _stopped(pid))
            with pytest.raises(il.PublishError) as info:
                await broker.publish(topic, b"in doubt")
        finally:
            os.kill(pid, signal.SIGCONT)
        assert info.value.maybe_stored is True
        async with asyncio.timeout(10):
            delivery = await anext(sub)  # and indeed it was stored
        assert delivery.body == b"in doubt"
        await delivery.ack()
        await sub.close()
    finally:
        await broker.close()


def _stopped(pid: int) -> bool:
    """Every thread of the process has stopped (a signal stops them one by one)."""
    threads = Path(f"/proc/{pid}/task").glob("*/stat")
    return all(stat.read_text().rpartition(") ")[2].startswith("T") for stat in threads)
