"""``interlink replay`` end to end: a real NATS server, an App with two groups, the CLI as a
subprocess."""

from __future__ import annotations

import time
from collections import Counter

import pytest

import interlink as il
from interlink._rfc3339 import format_time
from interlink.broker import StoredMessage, broker_from_url
from tests.conformance.broker.conftest import unique
from tests.conftest import NatsServer, eventually
from tests.e2e.test_cli_messaging import interlink


async def stored(url: str, topic: str, count: int) -> list[StoredMessage]:
    inspect = broker_from_url(url)
    await inspect.connect()
    try:
        found = await inspect.read(topic, limit=100)
    finally:
        await inspect.close()
    assert len(found) == count
    return found


def member(topic: str, group: str, seen: Counter[str], ids: set[str]) -> il.Service:
    svc = il.Service(unique(f"replay{group}"))

    @svc.subscribe(topic, group=group)
    async def handle(evt: dict[str, str], ctx: il.Context) -> None:
        seen[evt["n"]] += 1
        ids.add(ctx.headers["id"])

    return svc


async def test_replay_feeds_a_time_window_to_one_group_once(nats_server: NatsServer) -> None:
    topic = unique("cli.history")
    url = nats_server.url + "?history=3600"  # topic streams keep acknowledged messages
    seen: dict[str, Counter[str]] = {"a": Counter(), "b": Counter()}
    ids: dict[str, set[str]] = {"a": set(), "b": set()}
    services = [member(topic, group, seen[group], ids[group]) for group in seen]

    async with il.App(services, broker=url, serve_http=False) as app:
        for n in ("e0", "e1", "e2"):
            await app.publish(topic, {"n": n}, key="k")  # one key: each group in order
            mark = time.time()  # after the broker stored it: the next is 5 ms later or more
            await eventually(lambda mark=mark: time.time() >= mark + 0.005)  # type: ignore[misc]
        every = Counter({"e0": 1, "e1": 1, "e2": 1})
        await eventually(lambda: seen["a"] == every and seen["b"] == every)
        original_ids = set(ids["a"])
        e1, e2 = sorted(await stored(url, topic, 3), key=lambda m: m.published)[1:]
        since, until = format_time(e1.published - 0.0005), format_time(e2.published - 0.0005)

        for run in (1, 2):
            code, out, err = await interlink(
                "replay", topic, "--from", since, "--to", until, "--to-group", "a", "--broker", url
            )
            assert code == 0, err
            assert f"replayed 1 message(s) of {topic} to group a" in out
            # Keyed like the rest: once a group handled the marker, it settled the copy before.
            marker = f"marker{run}"
            await app.publish(topic, {"n": marker}, key="k")
            await eventually(lambda m=marker: seen["a"][m] == 1 and seen["b"][m] == 1)  # type: ignore[misc]
            assert seen["a"] - Counter({"marker1": 1, "marker2": 1}) == every + Counter(["e1"])
            assert seen["b"] - Counter({"marker1": 1, "marker2": 1}) == every
        assert ids["a"] - ids["b"] == set()  # the copy kept the original envelope id
        assert original_ids <= ids["a"]


async def test_replay_refuses_a_time_without_a_zone(nats_server: NatsServer) -> None:
    code, _, err = await interlink(
        "replay",
        "t",
        "--from",
        "2026-12-01T21:00:00",
        "--to-group",
        "g",
        "--broker",
        nats_server.url,
    )
    assert code == 2
    assert "not an RFC 3339 time with a zone" in err


async def test_replay_on_rabbitmq_says_it_keeps_no_history(request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue("rabbitmq_server").url)
    code, _, err = await interlink(
        "replay", "t", "--from", "earliest", "--to-group", "g", "--broker", url
    )
    assert code == 1
    assert "RabbitMQ keeps no history" in err
