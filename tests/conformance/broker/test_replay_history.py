"""Through the consumer runtime: ``subscribe(start_from=…)`` on a service, and
``replay_history`` to one group, with and without new envelope ids, on each retaining backend."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

import interlink as il
from interlink._envelope import Envelope
from interlink.broker import Broker, MemoryBroker, broker_from_url
from interlink.messaging import list_dead_letters, replay_history
from interlink.messaging._replay import replayed_id
from tests.conformance.broker.conftest import SERVERS, unique
from tests.conftest import eventually


@dataclass
class Retaining:
    spec: str | Broker
    inspect: Broker

    def app(self, *services: il.Service) -> il.App:
        return il.App(list(services), broker=self.spec, serve_http=False)


@pytest.fixture(params=["memory", "nats", "redis", "kafka"])
async def retaining(request: pytest.FixtureRequest) -> AsyncIterator[Retaining]:
    kind = request.param
    if kind == "memory":
        memory = MemoryBroker()
        yield Retaining(memory, memory)
        return
    url = request.getfixturevalue(SERVERS[kind]).url + ("?history=3600" if kind == "nats" else "")
    inspect = broker_from_url(url)
    await inspect.connect()
    try:
        yield Retaining(url, inspect)
    finally:
        await inspect.close()


def recorder(topic: str, group: str, seen: Counter[str], **options: object) -> il.Service:
    svc = il.Service(unique(group))

    @svc.subscribe(topic, group=group, **options)  # type: ignore[arg-type]
    async def handle(evt: dict[str, str], ctx: il.Context) -> None:
        seen[evt["n"]] += 1
        seen[f"id:{ctx.headers['id']}"] += 1
        seen[f"cause:{ctx.headers.get('causationid')}"] += 1

    return svc


async def test_a_service_group_created_with_start_from_earliest_handles_older_events(
    retaining: Retaining,
) -> None:
    topic = unique("hist.start")
    early: Counter[str] = Counter()
    late: Counter[str] = Counter()
    async with retaining.app(recorder(topic, "early", early)) as app:
        await app.publish(topic, {"n": "e0"})
        await app.publish(topic, {"n": "e1"}, key="k")
        await eventually(lambda: early["e0"] == early["e1"] == 1)
    fresh: Counter[str] = Counter()
    async with retaining.app(
        recorder(topic, "late", late, start_from="earliest"), recorder(topic, "fresh", fresh)
    ) as app:
        await app.publish(topic, {"n": "e2"}, key="k")
        await eventually(lambda: late["e0"] == late["e1"] == late["e2"] == 1)
        await eventually(lambda: fresh["e2"] == 1)
        assert fresh["e0"] == fresh["e1"] == 0


async def test_replay_keeps_envelope_ids_so_dedupe_skips_them_unless_as_new(
    retaining: Retaining,
) -> None:
    topic = unique("hist.dedupe")
    seen: Counter[str] = Counter()
    other: Counter[str] = Counter()
    dedupe = il.Dedupe(window=3600)
    async with retaining.app(
        recorder(topic, "d", seen, dedupe=dedupe), recorder(topic, "o", other)
    ) as app:
        await app.publish(topic, {"n": "e0"}, key="k")
        await eventually(lambda: seen["e0"] == other["e0"] == 1)
        (original,) = await retaining.inspect.read(topic, limit=10)
        origin = Envelope.from_bytes(original.body).id
        until = original.published + 0.001  # e0 only: later copies and markers come after
        await eventually(lambda: time.time() >= original.published + 0.002)

        async def marker(name: str) -> None:
            """Keyed like e0: once both groups handled it, they settled every copy before."""
            await app.publish(topic, {"n": name}, key="k")
            await eventually(lambda: seen[name] == other[name] == 1)

        same = await replay_history(retaining.inspect, topic, group="d", since=None, until=until)
        assert same.published == 1
        await marker("m1")
        assert seen["e0"] == 1  # same envelope id: the group's dedupe skipped it

        for run in (1, 2):
            renamed = await replay_history(
                retaining.inspect, topic, group="d", since=None, until=until, as_new=True
            )
            assert renamed.published == 1
            await marker(f"m{run + 1}x")
        assert seen["e0"] == 2  # once as new, however often it is run
        assert seen[f"id:{replayed_id(origin, 'd')}"] == 1
        assert seen[f"cause:{origin}"] == 1
        assert other["e0"] == 1  # another group never handles a replay for "d"

        # The history now holds 4 originals (e0 and the markers) and 2 copies (the second
        # as-new copy was dropped by the broker): copies are never replayed again.
        everything = await replay_history(retaining.inspect, topic, group="o", since=None)
        assert (everything.published, everything.skipped, everything.limited) == (4, 2, False)
        first = await replay_history(retaining.inspect, topic, group="x", since=None, limit=1)
        assert (first.published, first.limited, first.last) == (1, True, original.published)


async def test_a_replayed_copy_that_fails_again_is_a_new_dead_letter(
    retaining: Retaining,
) -> None:
    topic = unique("hist.fails")
    svc = il.Service(unique("failing"))

    @svc.subscribe(topic, group="f", retry=il.Retry(attempts=1, on=Exception))
    async def handle(evt: dict[str, str]) -> None:
        raise LookupError(evt["n"])

    async def dead(count: int) -> bool:
        return len(await list_dead_letters(retaining.inspect, topic)) == count

    async with retaining.app(svc) as app:
        await app.publish(topic, {"n": "e0"})
        await eventually(lambda: dead(1))
        done = await replay_history(retaining.inspect, topic, group="f", since=None)
        assert done.published == 1
        await eventually(lambda: dead(2))
