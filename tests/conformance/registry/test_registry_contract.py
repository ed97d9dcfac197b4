"""What every Registry backend guarantees, and what self-registration does on top of it."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

import interlink as il
from interlink.discovery import Health, Instance, MemoryRegistry, RegistryEvent, registry_from_url
from interlink.testing import FakeClock
from tests.conformance.broker.conftest import unique
from tests.conformance.registry.conftest import SERVERS, RegistryBackend, server_spec
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[3]


def inst(service: str, n: int, **extra: object) -> Instance:
    return Instance(
        id=f"{service}-{n}", service=service, address="127.0.0.1", port=9000 + n, **extra
    )  # type: ignore[arg-type]


async def test_register_resolve_deregister(backend: RegistryBackend) -> None:
    registry = backend.registry
    service, other = unique("inventory"), unique("payment")
    rich = inst(service, 2, version="1.2.0", zone="eu-1", weight=50, metadata={"k": "v"})
    await registry.register(inst(service, 1), ttl=30)
    await registry.register(rich, ttl=30)
    await registry.register(inst(other, 1), ttl=30)
    assert sorted(await registry.resolve(service), key=lambda i: i.id) == [inst(service, 1), rich]
    assert {service, other} <= set(await registry.services())
    await registry.deregister(inst(service, 1))
    assert await registry.resolve(service) == [rich]
    await registry.deregister(rich)
    await registry.deregister(inst(other, 1))
    assert await registry.resolve(unique("nobody")) == []
    assert service not in await registry.services()


async def test_watch_reports_up_change_and_down(backend: RegistryBackend) -> None:
    registry = backend.registry
    service = unique("watched")
    events: list[RegistryEvent] = []
    watch = registry.watch(service)

    async def follow() -> None:
        async for event in watch:
            events.append(event)

    task = asyncio.create_task(follow())
    try:
        # The watch may need a moment to start: add new instances until it reports one.
        added: list[Instance] = []

        async def seen_up() -> bool:
            added.append(inst(service, len(added) + 1))
            await registry.register(added[-1], ttl=30)
            return any(e.kind == "up" for e in events)

        await eventually(seen_up)
        watched = next(e.instance for e in events if e.kind == "up")
        assert watched is not None
        await registry.register(watched.with_health(Health.CRITICAL), ttl=30)

        def turned_critical() -> bool:
            return any(
                e.instance is not None and e.instance.health is Health.CRITICAL for e in events
            )

        await eventually(turned_critical)
        await registry.deregister(watched)
        await eventually(lambda: events[-1].kind == "down")
        assert events[-1].instance is not None
        assert events[-1].instance.id == watched.id
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_an_entry_lapses_when_its_ttl_passes_without_heartbeat(
    backend: RegistryBackend,
) -> None:
    registry = backend.registry
    service = unique("lapsing")
    await registry.register(inst(service, 1), ttl=1)
    await registry.register(inst(service, 2), ttl=30)

    async def kept_beating() -> bool:
        await registry.heartbeat(inst(service, 2), ttl=30)
        return [i.id for i in await registry.resolve(service)] == [f"{service}-2"]

    await eventually(kept_beating, timeout=4)


async def test_the_memory_registry_expires_on_its_clock() -> None:
    clock = FakeClock()
    registry = MemoryRegistry(clock=clock)
    await registry.register(inst("svc", 1), ttl=10)
    clock.advance(9)
    await registry.heartbeat(inst("svc", 1), ttl=10)
    clock.advance(9)
    assert await registry.resolve("svc") == [inst("svc", 1)]
    clock.advance(2)
    assert await registry.resolve("svc") == []
    await registry.close()


async def test_a_graceful_stop_deregisters(backend: RegistryBackend) -> None:
    service = unique("graceful")
    svc = il.Service(service)
    app = il.App([svc], registry=backend.spec, port=0, directory=backend.directory)
    async with app:
        await app.runtime.registration.registered.wait()
        (found,) = await backend.registry.resolve(service)
        assert found.url == app.url
    assert await backend.registry.resolve(service) == []


async def test_readiness_gates_registration(backend: RegistryBackend) -> None:
    service = unique("gated")
    svc = il.Service(service)
    ready = False

    @svc.health
    async def database() -> bool:
        return ready

    app = il.App(
        [svc], registry=backend.spec, port=0, directory=backend.directory, registration_ttl=3
    )
    async with app:
        for _ in range(20):
            await asyncio.sleep(0)
        assert await backend.registry.resolve(service) == []
        ready = True
        await app.runtime.registration.registered.wait()
        (found,) = await backend.registry.resolve(service)
        assert found.health is Health.PASSING
        ready = False  # the check now fails: the next heartbeat marks it critical

        async def critical() -> bool:
            return [i.health for i in await backend.registry.resolve(service)] == [Health.CRITICAL]

        await eventually(critical, timeout=5)


@pytest.mark.parametrize("kind", SERVERS)
async def test_a_killed_process_lapses_after_its_ttl(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    spec, directory = server_spec(kind, request, str(tmp_path))
    service = unique("doomed")
    registry = registry_from_url(spec, directory=directory)
    await registry.connect()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("_registrant.py")),
        spec,
        directory,
        service,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line.strip() == b"registered"
        assert len(await registry.resolve(service)) == 1
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        loop = asyncio.get_running_loop()
        killed_at = loop.time()

        async def gone() -> bool:
            return await registry.resolve(service) == []

        await eventually(gone, timeout=6)
        assert loop.time() - killed_at <= 2.0 + 1.0 + 0.5  # TTL + 1 s (+ polling slack)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await registry.close()


async def test_a_heartbeat_keeps_the_stored_entry(backend: RegistryBackend) -> None:
    """A registrar's verdict survives the owner's heartbeats; only the TTL moves."""
    registry = backend.registry
    service = unique("judged")
    own = inst(service, 1)
    await registry.register(own, ttl=30)
    await registry.register(own.with_health(Health.CRITICAL), ttl=30)  # as a registrar would
    await registry.heartbeat(own, ttl=30)
    assert [i.health for i in await registry.resolve(service)] == [Health.CRITICAL]
    await registry.deregister(own)
