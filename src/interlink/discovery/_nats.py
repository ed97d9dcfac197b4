"""``nats://host:port`` and ``embedded``: a JetStream key-value bucket as the registry.

One key per instance, ``{service}.{instance id}``, holding the instance as JSON, with a
per-key TTL (NATS 2.11+ message TTLs): a heartbeat rewrites the key, and a key not rewritten
within its TTL expires, which watchers see as a delete (server-placed expiry markers).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from interlink._errors import ConfigurationError
from interlink.discovery._base import Instance, RegistryEvent

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue

    from interlink.embedded import EmbeddedNats

__all__ = ["NatsRegistry"]

BUCKET = "IL_REGISTRY"


class NatsRegistry:
    def __init__(
        self,
        url: str,
        *,
        embedded: EmbeddedNats | None = None,
        bucket: str = BUCKET,
        request_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self._embedded = embedded
        self._bucket = bucket
        self._timeout = request_timeout
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._kv: KeyValue | None = None

    async def connect(self) -> None:
        import nats
        from nats.js.api import KeyValueConfig, StorageType

        server = self.url if self._embedded is None else await self._embedded.start()
        try:
            self._nc = await nats.connect(
                servers=[server],
                name="interlink-registry",
                connect_timeout=self._timeout,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.2,
            )
        except Exception as exc:
            if self._embedded is not None:
                await self._embedded.stop()
            raise ConfigurationError(f"cannot connect to NATS at {server}: {exc}") from None
        self._js = self._nc.jetstream(timeout=self._timeout)
        config = KeyValueConfig(
            bucket=self._bucket, history=1, storage=StorageType.FILE, limit_marker_ttl=1.0
        )
        self._kv = await self._js.create_key_value(config=config)

    async def close(self) -> None:
        nc, self._nc, self._js, self._kv = self._nc, None, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()
        if self._embedded is not None:
            await self._embedded.stop()

    async def register(self, instance: Instance, *, ttl: float) -> None:
        await self._put(_key(instance), instance.to_bytes(), ttl)

    async def heartbeat(self, instance: Instance, *, ttl: float) -> None:
        """A key's TTL restarts only when it is written: write back what is stored (a health
        a registrar set is kept), or the instance if its entry already lapsed."""
        import nats.js.errors

        key = _key(instance)
        try:
            entry = await self._store().get(key)
        except nats.js.errors.KeyNotFoundError:
            entry = None
        value = entry.value if entry is not None and entry.value else instance.to_bytes()
        await self._put(key, value, ttl)

    async def _put(self, key: str, value: bytes, ttl: float) -> None:
        subject = f"$KV.{self._bucket}.{key}"
        await self._jetstream().publish(subject, value, msg_ttl=max(1, math.ceil(ttl)))

    async def deregister(self, instance: Instance) -> None:
        import nats.js.errors

        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            await self._store().delete(_key(instance))

    async def resolve(self, service: str) -> list[Instance]:
        return [Instance.from_bytes(value) for _, value in await self._current(f"{service}.*")]

    async def services(self) -> list[str]:
        return sorted({key.partition(".")[0] for key, _ in await self._current(">")})

    async def _current(self, keys: str) -> list[tuple[str, bytes]]:
        """Every live key matching ``keys`` with its value, read straight from the stream.

        Not through a KV watch: its end-of-initial-values marker comes from a pending count
        taken as the watch starts and can miss an entry stored a moment before.
        """
        import nats.js.errors

        js = self._jetstream()
        stream = f"KV_{self._bucket}"
        prefix = f"$KV.{self._bucket}."
        info = await js.stream_info(stream, subjects_filter=f"{prefix}{keys}")
        found: list[tuple[str, bytes]] = []
        for subject in sorted(info.state.subjects or {}):
            try:
                msg = await js.get_msg(stream, subject=subject)
            except nats.js.errors.NotFoundError:
                continue  # removed since the listing
            headers = msg.headers or {}
            if msg.data and "KV-Operation" not in headers and "Nats-Marker-Reason" not in headers:
                found.append((subject.removeprefix(prefix), msg.data))
        return found

    async def watch(self, service: str) -> AsyncIterator[RegistryEvent]:
        from nats.js.kv import KV_DEL, KV_PURGE

        watcher = await self._store().watch(f"{service}.*", include_history=False)
        known: dict[str, Instance] = {}
        initial = True
        try:
            while True:
                try:
                    entry = await watcher.updates(timeout=None)  # type: ignore[no-untyped-call]
                except TimeoutError:
                    continue
                if entry is None:
                    initial = False
                    continue
                if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                    gone = known.pop(entry.key, None)
                    if gone is not None:
                        yield RegistryEvent("down", gone)
                    continue
                instance = Instance.from_bytes(entry.value)
                changed = known.get(entry.key) != instance
                known[entry.key] = instance
                if changed and not initial:
                    yield RegistryEvent("up", instance)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("the NATS registry is not connected")
        return self._js

    def _store(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("the NATS registry is not connected")
        return self._kv


def _key(instance: Instance) -> str:
    return f"{instance.service}.{instance.id}"
