"""Fixtures for the outbox suites: a real PostgreSQL server, an App context, a flaky broker.

The server is started once per session on a free loopback port in a temporary directory (as
the ``postgres`` user when running as root) and stopped by pid. Set ``INTERLINK_POSTGRES_URL``
to use a server you run yourself instead; without either, the PostgreSQL tests are skipped.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

import pytest

import interlink as il
from interlink._clock import SYSTEM_CLOCK, Clock
from interlink._envelope import Envelope
from interlink._errors import PublishError
from interlink.broker import MemoryBroker
from tests.conftest import free_port
from tests.integration.outbox.harness import Harness, PostgresHarness, SqliteHarness

HERE = Path(__file__).parent


def postgres_bindir() -> Path | None:
    """Where initdb and postgres live: $INTERLINK_POSTGRES_BIN, then Debian's layout."""
    explicit = os.environ.get("INTERLINK_POSTGRES_BIN")
    candidates = [explicit] if explicit else []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if (Path(candidate) / "postgres").exists() and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


class PostgresServer:
    """A throwaway cluster: initdb, then ``postgres`` in the foreground, stopped by pid."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="interlink-pg-"))
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.process: subprocess.Popen[bytes] | None = None
        self._user = "postgres" if os.geteuid() == 0 else None

    def start(self) -> None:
        data = self.root / "data"
        if self._user is not None:  # initdb and postgres refuse to run as root
            shutil.chown(self.root, user=self._user)
        self._run_initdb(data)
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": "",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        command = [str(self.bindir / "postgres"), "-D", str(data), "-p", str(self.port)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        with open(self.root / "server.log", "wb") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                command,
                user=self._user,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        self._wait_ready(deadline=time.monotonic() + 30)

    def _run_initdb(self, data: Path) -> None:
        subprocess.run(
            [
                *(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres"),
                *("--auth=trust", "--encoding=UTF8", "--no-sync", "--no-instructions"),
            ],
            user=self._user,
            check=True,
            capture_output=True,
        )

    def _wait_ready(self, *, deadline: float) -> None:
        isready = [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"]
        while subprocess.run(isready, check=False).returncode != 0:
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.root / "server.log").read_text(errors="replace")
                raise RuntimeError(f"PostgreSQL did not start:\n{log}")
            time.sleep(0.05)  # polling a child process's readiness, not waiting for a result

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SIGTERM: smart shutdown, no client is left by now
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    external = os.environ.get("INTERLINK_POSTGRES_URL")
    if external:
        yield external
        return
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found: apt-get install -y postgresql")
    if os.geteuid() == 0 and not _user_exists("postgres"):
        pytest.skip("running as root needs a 'postgres' user to run the server as")
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server.dsn
    finally:
        server.stop()


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def table() -> str:
    """A fresh table name per test, so tests never see each other's rows."""
    return f"outbox_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def broker() -> AsyncIterator[MemoryBroker]:
    async with MemoryBroker() as memory:
        yield memory


@pytest.fixture
async def ctx(broker: MemoryBroker) -> AsyncIterator[il.Context]:
    app = il.App([], broker=broker, serve_http=False)
    async with app:
        yield app.context("orders")


def published_ids(broker: MemoryBroker, topic: str) -> list[str]:
    """Envelope ids of what reached ``topic``, in publish order (copies included)."""
    return [Envelope.from_bytes(m.body).id for m in broker.messages(topic)]


class FlakyBroker:
    """Our Broker seam around a real MemoryBroker, failing the first ``failures`` publishes."""

    def __init__(self, inner: MemoryBroker, failures: int) -> None:
        self.url = "flaky+memory://"
        self.inner = inner
        self.failures = failures
        self.calls = 0

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise PublishError(f"broker unavailable (call {self.calls})")
        await self.inner.publish(topic, body, key=key, headers=headers, message_id=message_id)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_harness(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, table: str
) -> Callable[..., Harness]:
    """Build a harness for ``backend`` (``clock=`` goes to the outbox); the test opens it."""

    def make(*, clock: Clock = SYSTEM_CLOCK) -> Harness:
        if backend == "sqlite":
            return SqliteHarness(tmp_path / "app.db", table, clock=clock)
        dsn = request.getfixturevalue("postgres_dsn")
        return PostgresHarness(dsn, table, clock=clock)

    return make


@pytest.fixture
async def harness(make_harness: Callable[..., Harness]) -> AsyncIterator[Harness]:
    opened = make_harness()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


class CountingBroker:
    """Counts every publish per message id, duplicates included (the broker behind it would
    hide them); ``interleave`` yields between publishes so concurrent relays take turns."""

    def __init__(self, inner: MemoryBroker, *, interleave: bool = False) -> None:
        self.url = "counting+memory://"
        self.inner = inner
        self.interleave = interleave
        self.calls: Counter[str] = Counter()

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        assert message_id is not None
        self.calls[message_id] += 1
        if self.interleave:
            await asyncio.sleep(0)
        await self.inner.publish(topic, body, key=key, message_id=message_id)


class PickyBroker:
    """Our Broker seam around a real MemoryBroker, refusing what the test says: every publish
    to a topic in ``refused_topics``, and the next ``n`` publishes of an id put in
    ``refuse_next``. ``log`` keeps every publish in order as ``(message_id, accepted)``."""

    def __init__(self, inner: MemoryBroker, *, refused_topics: set[str] | None = None) -> None:
        self.url = "picky+memory://"
        self.inner = inner
        self.refused_topics = set() if refused_topics is None else refused_topics
        self.refuse_next: Counter[str] = Counter()
        self.log: list[tuple[str, bool]] = []

    async def publish(
        self,
        topic: str,
        body: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        message_id: str | None = None,
    ) -> None:
        assert message_id is not None
        once = self.refuse_next[message_id] > 0
        refused = once or topic in self.refused_topics
        self.log.append((message_id, not refused))
        self.refuse_next[message_id] -= once
        if refused:
            raise PublishError(f"the broker refuses {topic!r}")
        await self.inner.publish(topic, body, key=key, message_id=message_id)
