"""``Dedupe(store="nats")``: claims and done-marks in one JetStream stream, shared by every
member of every group on the App's NATS broker.

One subject per (scope, id), at most one message each, expiring by per-message TTL: a claim
lives ``lease`` seconds, a done-mark ``window`` seconds. A claim is a publish that expects the
subject to be empty (``Nats-Expected-Last-Subject-Sequence: 0``), so two members racing for one
id cannot both win.
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING

from interlink._errors import ConfigurationError
from interlink.messaging._dedupe import Claim, safe_key

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from interlink.broker import Broker

__all__ = ["NatsDedupeStore"]

STREAM = "IL_DEDUPE"
_PREFIX = "_IL.DEDUPE"
_RUNNING, _DONE = b"run", b"done"
_WRONG_LAST_SEQUENCE = 10071


class NatsDedupeStore:
    def __init__(self) -> None:
        self._js: JetStreamContext | None = None

    async def open(self, broker: Broker) -> None:
        from nats.js.api import DiscardPolicy, StorageType, StreamConfig

        from interlink.broker import NatsBroker

        if not isinstance(broker, NatsBroker):
            raise ConfigurationError("Dedupe(store='nats') needs the App's broker to be NATS")
        js = broker.jetstream
        config = StreamConfig(
            name=STREAM,
            subjects=[f"{_PREFIX}.>"],
            storage=StorageType.FILE,
            max_msgs_per_subject=1,
            discard=DiscardPolicy.OLD,
            allow_msg_ttl=True,
            duplicate_window=1.0,
            num_replicas=max(1, broker.settings.replicas),
        )
        import nats.js.errors

        with contextlib.suppress(nats.js.errors.BadRequestError):  # it exists already
            await js.add_stream(config)
        self._js = js

    async def claim(self, scope: str, message_id: str, *, lease: float) -> Claim:
        import nats.js.errors

        subject = _subject(scope, message_id)
        for _ in range(2):  # the entry may expire between the refused claim and the read
            try:
                await self._jetstream().publish(
                    subject,
                    _RUNNING,
                    headers={"Nats-Expected-Last-Subject-Sequence": "0"},
                    msg_ttl=_ttl(lease),
                )
                return Claim.CLAIMED
            except nats.js.errors.APIError as exc:
                if exc.err_code != _WRONG_LAST_SEQUENCE:
                    raise
            try:
                entry = await self._jetstream().get_last_msg(STREAM, subject)
            except nats.js.errors.NotFoundError:
                continue
            return Claim.DONE if entry.data == _DONE else Claim.BUSY
        return Claim.BUSY

    async def release(self, scope: str, message_id: str) -> None:
        await self._jetstream().purge_stream(STREAM, subject=_subject(scope, message_id))

    async def remember(self, scope: str, message_id: str, *, window: float) -> None:
        await self._jetstream().publish(_subject(scope, message_id), _DONE, msg_ttl=_ttl(window))

    async def close(self) -> None:
        return None

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("the dedupe store is not open")
        return self._js


def _subject(scope: str, message_id: str) -> str:
    return f"{_PREFIX}.{safe_key(scope)}.{safe_key(message_id)}"


def _ttl(seconds: float) -> float:
    return float(max(1, math.ceil(seconds)))
