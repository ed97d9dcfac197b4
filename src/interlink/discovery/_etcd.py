"""``etcd://host:port`` (or ``etcd://h1:p1,h2:p2``): etcd v3 keys held by one lease per instance.

One key per instance, ``/interlink/services/{service}/{instance id}``, holding the instance as
JSON and attached to that instance's lease, granted for the TTL (whole seconds, at least 1; etcd
raises it to its own minimum, 2 s by default). A heartbeat is a lease keepalive; a lease that
has expired took its key with it, so the heartbeat registers again. Watches are prefix watches
from the current revision, in which an expired lease shows as a delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from interlink._errors import ConfigurationError
from interlink.discovery._base import Instance, RegistryEvent

__all__ = ["EtcdRegistry"]

log = logging.getLogger("interlink")

PREFIX = "/interlink/services/"
_T = TypeVar("_T")
_REWATCH = (0.1, 2.0)  # first and longest pause before a broken watch is opened again


class EtcdRegistry:
    """A registry in etcd. With several endpoints, a request that cannot reach one moves on to
    the next (they are members of one cluster: leases and revisions are shared)."""

    def __init__(self, url: str, *, request_timeout: float = 5.0, prefix: str = PREFIX) -> None:
        self.url = url
        self._aetcd = _import_aetcd()
        self._endpoints = parse_endpoints(url)
        self._timeout = request_timeout
        self._prefix = prefix
        self._client: Any = None
        self._current = 0
        # Invariant: an instance's key is attached to the lease recorded here (or to none).
        self._leases: dict[str, tuple[int, int]] = {}  # key -> (lease id, granted seconds)
        self._streams: set[Any] = set()
        self._closed = asyncio.Event()

    async def connect(self) -> None:
        self._closed.clear()
        failure: Exception | None = None
        for _ in self._endpoints:
            client = self._new_client()
            try:
                await client.status()
            except Exception as exc:
                failure = exc
                await _quietly(client.close())
                self._current = (self._current + 1) % len(self._endpoints)
                continue
            self._client = client
            return
        raise ConfigurationError(f"cannot connect to etcd at {self.url}: {failure}") from None

    async def close(self) -> None:
        self._closed.set()
        for stream in list(self._streams):
            await _quietly(stream.cancel())
        client, self._client = self._client, None
        if client is not None:
            await _quietly(client.close())
        self._leases.clear()

    async def __aenter__(self) -> EtcdRegistry:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def register(self, instance: Instance, *, ttl: float) -> None:
        key, value, seconds = self._key(instance), instance.to_bytes(), _seconds(ttl)
        known = self._leases.get(key)
        if known is not None and known[1] == seconds and await self._put(key, value, known[0]):
            return
        if known is None:
            # Another registry's instance (a registrar setting its health): keep the owner's
            # lease, so the entry still lapses when its owner stops heartbeating.
            current = await self._call(lambda c: c.get(key.encode()))
            if current is not None and current.lease and await self._put(key, value, current.lease):
                return
        lease = await self._call(lambda c: c.lease(seconds))
        await self._put(key, value, lease.id)
        self._leases[key] = (lease.id, seconds)
        if known is not None:  # the key has left the old lease; drop it rather than wait
            await _quietly(self._call(lambda c: c.revoke_lease(known[0])))

    async def heartbeat(self, instance: Instance, *, ttl: float) -> None:
        """A keepalive; the stored value (a health a registrar set) is kept. An entry that
        has lapsed or was deregistered elsewhere is registered again."""
        key = self._key(instance)
        known = self._leases.get(key)
        if known is not None and known[1] == _seconds(ttl):
            reply = await self._call(lambda c: c.refresh_lease(known[0]))
            alive = reply is not None and reply.TTL > 0
            if alive and await self._call(lambda c: c.get(key.encode())) is not None:
                return
            if not alive:  # expired: etcd has deleted the key with it
                del self._leases[key]
        await self.register(instance, ttl=ttl)

    async def deregister(self, instance: Instance) -> None:
        key = self._key(instance)
        await self._call(lambda c: c.delete(key.encode()))
        known = self._leases.pop(key, None)
        if known is not None:
            await _quietly(self._call(lambda c: c.revoke_lease(known[0])))

    async def resolve(self, service: str) -> list[Instance]:
        found = await self._call(lambda c: c.get_prefix(self._service_prefix(service)))
        return [i for i in (_decode(kv.value) for kv in found) if i is not None]

    async def services(self) -> list[str]:
        found = await self._call(lambda c: c.get_prefix(self._prefix.encode(), keys_only=True))
        start = len(self._prefix)
        return sorted({kv.key.decode()[start:].partition("/")[0] for kv in found})

    async def watch(self, service: str) -> AsyncIterator[RegistryEvent]:
        prefix, pause, broken = self._service_prefix(service), _REWATCH[0], False
        while not self._closed.is_set():
            try:
                stream = await self._call(lambda c: c.watch_prefix(prefix, prev_kv=True))
            except Exception as exc:
                log.warning("registry %s: cannot watch %s: %r", self.url, service, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), pause)
                pause = min(pause * 2, _REWATCH[1])
                continue
            pause = _REWATCH[0]
            if broken:  # events may have been missed between the two watches
                yield RegistryEvent("reset", None)
            self._streams.add(stream)
            try:
                async for event in _events(stream, self._aetcd):
                    yield event
            finally:
                self._streams.discard(stream)
                await _quietly(stream.cancel())
            broken = True

    async def _put(self, key: str, value: bytes, lease: int) -> bool:
        """Write ``key`` under ``lease``; False if that lease no longer exists."""
        try:
            await self._call(lambda c: c.put(key.encode(), value, lease=lease))
        except self._aetcd.ClientError as exc:
            if "lease not found" in str(exc):
                return False
            raise
        return True

    async def _call(self, operation: Callable[[Any], Awaitable[_T]]) -> _T:
        """Run ``operation`` on the client, trying each endpoint once if one is unreachable."""
        unreachable = (self._aetcd.ConnectionFailedError, self._aetcd.ConnectionTimeoutError)
        for attempt in range(len(self._endpoints)):
            client = self._connected()
            try:
                return await operation(client)
            except unreachable:
                if attempt == len(self._endpoints) - 1:
                    raise
                await self._fail_over(client)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _fail_over(self, failed: Any) -> None:
        if self._client is not failed:  # another request has moved on already
            return
        self._current = (self._current + 1) % len(self._endpoints)
        self._client = self._new_client()
        await _quietly(failed.close())  # this also ends its watches, which open again

    def _new_client(self) -> Any:
        host, port = self._endpoints[self._current]
        return self._aetcd.Client(host=host, port=port, timeout=self._timeout)

    def _connected(self) -> Any:
        if self._client is None:
            raise RuntimeError("the etcd registry is not connected")
        return self._client

    def _key(self, instance: Instance) -> str:
        return f"{self._prefix}{instance.service}/{instance.id}"

    def _service_prefix(self, service: str) -> bytes:
        return f"{self._prefix}{service}/".encode()


async def _events(stream: Any, aetcd: Any) -> AsyncIterator[RegistryEvent]:
    """Registry events from one etcd watch, until it ends (cancelled, compacted, or broken)."""
    try:
        async for event in stream:
            before = event.prev_kv.value if event.prev_kv is not None else b""
            if event.kind == aetcd.EventKind.PUT:
                instance = _decode(event.kv.value)
                if instance is not None and event.kv.value != before:
                    yield RegistryEvent("up", instance)
                continue
            gone = _decode(before) if before else None
            # Without the previous value (compacted away) the watcher must resolve afresh.
            yield RegistryEvent("down", gone) if gone is not None else RegistryEvent("reset", None)
    except aetcd.ClientError as exc:
        log.warning("registry watch ended: %r", exc)


def _decode(raw: bytes) -> Instance | None:
    try:
        return Instance.from_bytes(raw)
    except msgspec.DecodeError:  # not ours: someone else wrote under the prefix
        return None


def _seconds(ttl: float) -> int:
    return max(1, math.ceil(ttl))


async def _quietly(work: Awaitable[object]) -> None:
    """Best-effort cleanup: a failure here must not hide the caller's result or error."""
    with contextlib.suppress(Exception):
        await work


def parse_endpoints(url: str) -> list[tuple[str, int]]:
    """``etcd://h1:p1,h2:p2`` -> ``[("h1", p1), ("h2", p2)]``; the port defaults to 2379."""
    scheme, sep, rest = url.partition("://")
    hosts = rest.split("/", 1)[0]
    if scheme != "etcd" or not sep or not hosts:
        raise ConfigurationError(f"bad etcd URL {url!r}: expected 'etcd://host:port[,host:port]'")
    endpoints = []
    for item in hosts.split(","):
        host, colon, port = item.rpartition(":")
        if not colon or item.endswith("]"):  # no port (``[::1]`` is a bracketed IPv6 host)
            host, port = item, "2379"
        if not host or not port.isdigit():
            raise ConfigurationError(f"bad etcd endpoint {item!r} in {url!r}")
        endpoints.append((host, int(port)))
    return endpoints


def _import_aetcd() -> Any:
    try:
        import aetcd  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        raise ConfigurationError(
            'the etcd registry needs the aetcd package: pip install "interlink[etcd]"'
        ) from None
    return aetcd
