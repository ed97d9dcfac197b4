"""``embedded?cluster=3``: a JetStream cluster of child processes on loopback, for failover
drills on one machine.

The same rules as the single embedded server: one cluster per project directory, its nodes'
pids and ports recorded in ``.interlink/nats-cluster.json``; the first process to need it starts
it (under the directory's lock), the others reuse it while a majority of its nodes is up; only
the process that started it stops it, every node still running. Node ``i`` stores under
``.interlink/jetstream-cluster/n<i>`` and logs to ``.interlink/nats-cluster-n<i>.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import subprocess
from pathlib import Path

from interlink._errors import ConfigurationError
from interlink.embedded._nats_server import (
    _alive,
    _free_port,
    _listening,
    find_nats_server,
    jetstream_config,
)

__all__ = ["EmbeddedNatsCluster"]


class EmbeddedNatsCluster:
    """``async with EmbeddedNatsCluster(".interlink", nodes=3) as url:`` — ``url`` lists every
    node (``nats://127.0.0.1:p1,127.0.0.1:p2,…``), so a client fails over between them."""

    def __init__(
        self,
        directory: str | os.PathLike[str] = ".interlink",
        *,
        nodes: int = 3,
        ready_timeout: float = 20.0,
    ) -> None:
        if nodes < 3:
            raise ConfigurationError(f"an embedded cluster needs at least 3 nodes, not {nodes}")
        self.directory = Path(directory).resolve()
        self.nodes = nodes
        self.ready_timeout = ready_timeout
        self.url = ""
        self.owned = False
        self.pids: list[int] = []
        self.ports: list[int] = []
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def _state(self) -> Path:
        return self.directory / "nats-cluster.json"

    async def start(self) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "nats.lock").open("w") as lock:
            await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
            try:
                if not self._reuse():
                    await self._spawn()
                    self.owned = True
                return self.url
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    async def stop(self) -> None:
        processes, self._processes = self._processes, []
        if not self.owned:
            return
        self.owned = False
        with contextlib.suppress(FileNotFoundError):
            self._state.unlink()
        running = [process for process in processes if process.poll() is None]
        for process in running:  # all at once: a node stopped alone waits for its peers
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                await asyncio.to_thread(process.wait, 20)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def running_url(self) -> str | None:
        """The URL of a cluster already running for this directory, or None."""
        return self.url if self._reuse() else None

    def _reuse(self) -> bool:
        try:
            state = json.loads(self._state.read_text())
            pids, ports = [int(p) for p in state["pids"]], [int(p) for p in state["ports"]]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return False
        up = sum(
            1 for pid, port in zip(pids, ports, strict=True) if _alive(pid) and _listening(port)
        )
        if up <= len(pids) // 2:
            return False
        self.pids, self.ports, self.url = pids, ports, _url(ports)
        return True

    async def _spawn(self) -> None:
        binary = find_nats_server()
        ports = [_free_port() for _ in range(self.nodes)]
        routes = ",".join(f"nats://127.0.0.1:{_free_port()}" for _ in range(self.nodes))
        try:
            for i, port in enumerate(ports):
                self._processes.append(self._node(binary, i, port, routes))
            for i, port in enumerate(ports):
                await self._wait_ready(i, port)
        except BaseException:
            self.owned = True
            await self.stop()
            raise
        self.pids, self.ports, self.url = [p.pid for p in self._processes], ports, _url(ports)
        tmp = self._state.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pids": self.pids, "ports": ports}))
        tmp.replace(self._state)

    def _node(self, binary: str, i: int, port: int, routes: str) -> subprocess.Popen[bytes]:
        route = routes.split(",")[i]
        config = self.directory / f"nats-cluster-n{i}.conf"
        store = self.directory / "jetstream-cluster" / f"n{i}"
        with (self.directory / f"nats-cluster-n{i}.log").open("ab") as log:
            return subprocess.Popen(
                [
                    *(binary, "-a", "127.0.0.1", "-p", str(port), "-js"),
                    *("-c", str(jetstream_config(config, store))),
                    *("--server_name", f"n{i}", "--cluster_name", "interlink"),
                    *("--cluster", route, "--routes", routes),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop it in order
            )

    async def _wait_ready(self, i: int, port: int) -> None:
        """Until node ``i`` answers a JetStream API request: the cluster has a meta leader."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout
        while not await _jetstream_answers(port):
            if self._processes[i].poll() is not None:
                raise ConfigurationError(
                    f"nats-server n{i} exited; see {self.directory / f'nats-cluster-n{i}.log'}"
                )
            if loop.time() > deadline:
                raise ConfigurationError(f"the NATS cluster was not ready in {self.ready_timeout}s")
            await asyncio.sleep(0.05)  # the cluster is electing; bounded by the deadline


def _url(ports: list[int]) -> str:
    return "nats://" + ",".join(f"127.0.0.1:{port}" for port in ports)


async def _jetstream_answers(port: int) -> bool:
    request = (
        b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n'
        b"SUB r 1\r\nPUB $JS.API.INFO r 0\r\n\r\n"
    )
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(request)
        received = b""
        async with asyncio.timeout(1.0):
            while b"account_info_response" not in received and b"503" not in received:
                chunk = await reader.read(4096)
                if not chunk:
                    return False
                received += chunk
        return b"account_info_response" in received and b'"error"' not in received
    except (TimeoutError, OSError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
