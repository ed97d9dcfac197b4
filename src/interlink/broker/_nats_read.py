"""Reading a topic's stream back: every retained message, or those stored within a time window.

A stream's messages are stored in time order, so the first one at or after a time is found by
bisecting sequence numbers (a few dozen lookups for any stream), not by scanning from the start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from interlink.broker._base import StoredMessage
from interlink.broker._nats_delivery import KEY_HEADER
from interlink.broker._nats_streams import stream_name

if TYPE_CHECKING:
    from nats.js import JetStreamContext
    from nats.js.api import RawStreamMsg, StreamInfo

__all__ = ["first_at", "read_stream"]


async def read_stream(
    js: JetStreamContext,
    topic: str,
    *,
    limit: int,
    since: float | None = None,
    until: float | None = None,
    info: Callable[[str], Awaitable[StreamInfo]] | None = None,
) -> list[StoredMessage]:
    """Up to ``limit`` messages stored at or after ``since`` and before ``until``, oldest
    first. ``info`` asks for the stream's state (the broker's asks again while a cluster
    stream elects its leader)."""
    import nats.js.errors

    name = stream_name(topic)
    try:
        state = (await (info or js.stream_info)(name)).state
    except nats.js.errors.NotFoundError:
        return []
    seq, last = state.first_seq, state.last_seq
    if since is not None and seq:
        seq = await first_at(js, name, seq, last, since)
    found: list[StoredMessage] = []
    while seq and seq <= last and len(found) < limit:
        raw = await _at_or_after(js, name, seq)
        if raw is None or raw.seq is None:
            break
        message = _stored(topic, raw)
        if until is not None and message.published >= until:
            break
        found.append(message)
        seq = raw.seq + 1
    return found


async def first_at(js: JetStreamContext, name: str, low: int, high: int, since: float) -> int:
    """The lowest sequence from which every stored message is at or after ``since``."""
    high += 1  # Invariant: every message below ``low`` is older; none from ``high`` is.
    while low < high:
        middle = (low + high) // 2
        raw = await _at_or_after(js, name, middle)
        if raw is None or raw.seq is None or raw.seq >= high:
            high = middle
        elif _published(raw) < since:
            low = raw.seq + 1
        else:
            high = middle
    return low


async def _at_or_after(js: JetStreamContext, name: str, seq: int) -> RawStreamMsg | None:
    """The first message still stored at ``seq`` or later (None: there is none)."""
    import nats.js.errors

    try:
        return await js.get_msg(name, seq, subject=">", next=True)
    except nats.js.errors.NotFoundError:
        return None


def _published(raw: RawStreamMsg) -> float:
    return raw.time.timestamp() if raw.time is not None else 0.0


def _stored(topic: str, raw: RawStreamMsg) -> StoredMessage:
    headers = dict(raw.headers or {})
    key = headers.pop(KEY_HEADER, None)
    headers.pop("Nats-Msg-Id", None)
    return StoredMessage(
        topic, raw.data or b"", key, headers, raw.seq or 0, published=_published(raw)
    )
