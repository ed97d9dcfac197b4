"""``interlink tail`` and ``interlink dlq`` against real NATS, Redis and RabbitMQ servers."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

import interlink as il
from interlink.broker import broker_from_url
from interlink.messaging import list_dead_letters
from tests.conformance.broker.conftest import CLI_SERVERS, SERVERS, unique
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]


async def interlink(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "interlink",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "250"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


ON_SERVERS = pytest.mark.parametrize("kind", CLI_SERVERS)


def server_url(request: pytest.FixtureRequest, kind: str) -> str:
    return str(request.getfixturevalue(SERVERS[kind]).url)


@ON_SERVERS
async def test_dlq_list_replay_and_purge(request: pytest.FixtureRequest, kind: str) -> None:
    topic = unique("cli.orders")
    fixed = False
    handled: list[int] = []
    svc = il.Service(unique("cli"))

    @svc.subscribe(topic, retry=il.Retry(attempts=1, on=Exception))
    async def charge(order: dict[str, int]) -> None:
        if not fixed:
            raise LookupError(f"no card for order {order['n']}")
        handled.append(order["n"])

    url = server_url(request, kind)
    async with il.App([svc], broker=url, serve_http=False) as app:
        inspect = broker_from_url(url)
        await inspect.connect()
        try:
            await app.publish(topic, {"n": 1})
            await app.publish(topic, {"n": 2})

            async def two_dead() -> bool:
                return len(await list_dead_letters(inspect, topic)) == 2

            await eventually(two_dead)
            first = (await list_dead_letters(inspect, topic))[0]
        finally:
            await inspect.close()

        code, out, err = await interlink("dlq", "list", topic, "--broker", url)
        assert code == 0, err
        assert first.envelope_id is not None
        assert first.envelope_id in out
        assert "LookupError: no card for order 1" in out
        assert "2 dead letter(s)" in out

        fixed = True
        code, out, err = await interlink(
            "dlq", "replay", topic, "--id", first.envelope_id, "--broker", url
        )
        assert (code, out.strip()) == (0, "replayed 1 message(s)"), err
        await eventually(lambda: handled == [1], timeout=30)

        code, _, err = await interlink("dlq", "replay", topic, "--id", "nope", "--broker", url)
        assert code == 1
        assert "no dead letter with id 'nope'" in err

        code, out, err = await interlink("dlq", "purge", topic, "--yes", "--broker", url)
        assert (code, out.strip()) == (0, "purged 1 message(s)"), err
        code, out, _ = await interlink("dlq", "list", topic, "--broker", url)
        assert "0 dead letter(s)" in out


@ON_SERVERS
async def test_tail_prints_messages_as_they_arrive(
    request: pytest.FixtureRequest, kind: str
) -> None:
    topic = unique("cli.tail")
    url = server_url(request, kind)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "interlink",
        "tail",
        topic,
        "--broker",
        url,
        "--count",
        "1",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "250"},
    )
    async with il.App([il.Service("tailer")], broker=url, serve_http=False) as app:
        # tail only sees what is published after it subscribed: publish until it has printed one.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while proc.returncode is None and loop.time() < deadline:
            await app.publish(topic, {"greeting": "hello"}, key="k1")
            try:
                await asyncio.wait_for(proc.wait(), 0.2)
            except TimeoutError:
                continue
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert topic in text
    assert "key=k1" in text
    assert '"greeting": "hello"' in text


async def test_embedded_without_a_running_server_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = await interlink("dlq", "list", "t", "--dir", str(tmp_path))
    assert code == 1
    assert "no embedded broker is running" in err
    code, _, err = await interlink("tail", "t", "--broker", "memory://")
    assert code == 1
    assert "lives inside its own process" in err


async def test_publish_goes_to_the_embedded_broker_when_one_runs(tmp_path: Path) -> None:
    directory = str(tmp_path / ".interlink")
    topic = unique("cli.publish")
    received: list[dict[str, str]] = []
    svc = il.Service(unique("listener"))

    @svc.subscribe(topic)
    async def hear(evt: dict[str, str], ctx: il.Context) -> None:
        received.append({**evt, "source": ctx.headers["source"]})

    async with il.App([svc], broker="embedded", directory=directory, serve_http=False):
        code, out, err = await interlink("publish", topic, '{"hello": "world"}', "--dir", directory)
        assert (code, out.strip()) == (0, f"published to {topic}"), err
        await eventually(lambda: received == [{"hello": "world", "source": "/cli"}])
