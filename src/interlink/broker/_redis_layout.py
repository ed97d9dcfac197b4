"""How topics, keys and groups map onto Redis streams, and the settings of ``redis://`` URLs.

A topic is one stream for unkeyed messages, ``il:{topic}:s``, and ``partitions`` streams for
keyed ones, ``il:{topic}:p<n>`` (``n`` the key's stable hash modulo the partition count, which
the first process to touch the topic stores in ``il:{topic}:parts``, so every process agrees).
Every key of a topic shares the hash tag ``{topic}``: the scripts touch one slot only.

A group is a Redis consumer group on each of those streams, created on first subscribe at
``$`` (or, with ``start_from``, at the start of the stream or just before the first entry of a
time: entry ids are Redis's clock in milliseconds); a member is a consumer named after its subscription. A group's message nacked with
a delay stays in its pending list and is recorded in the group's delayed set of that stream
(``<stream>:d:<group>``, scored by when it is due), so it can come back to any member.

Dead-letter topics (``*.dlq``) have no partitions: every message goes to the one stream, read
back in publish order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from interlink._errors import ConfigurationError

__all__ = [
    "BODY",
    "HEADERS",
    "KEY",
    "RedisSettings",
    "TopicKeys",
    "decode_ref",
    "encode_ref",
    "group_start",
    "ms_at",
]

BODY, KEY, HEADERS = b"b", b"k", b"h"
MAX_PARTITIONS = 1024
_LANES = 2048  # > MAX_PARTITIONS + 1: a ref keeps the lane in its low bits


@dataclass(frozen=True, kw_only=True, slots=True)
class RedisSettings:
    """Defaults for ``redis://host:port?ack_wait=30&partitions=8`` (see docs/messaging.md)."""

    ack_wait: float = 30.0
    """A delivery not acked, nacked or reported in progress within this long is given to
    another member (its member is presumed dead)."""
    partitions: int = 8
    duplicate_window: float = 120.0
    max_len: int = 1_000_000
    """Streams are trimmed (approximately) to this many entries, oldest first."""

    def __post_init__(self) -> None:
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ConfigurationError(
                f"partitions must be between 1 and {MAX_PARTITIONS}, not {self.partitions}"
            )
        if self.ack_wait <= 0:
            raise ConfigurationError(f"ack_wait must be positive, not {self.ack_wait}")


class TopicKeys:
    """The Redis keys of one topic."""

    __slots__ = ("base", "channel", "dedupe_prefix", "parts", "topic")

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.base = f"il:{{{topic}}}"
        self.parts = f"{self.base}:parts"
        self.dedupe_prefix = f"{self.base}:id:"
        self.channel = f"il:n:{topic}"
        """Published to after every write a waiting member should notice."""

    def stream(self, lane: int) -> str:
        """Lane 0 holds unkeyed messages; lane ``n + 1`` is partition ``n``."""
        return f"{self.base}:s" if lane == 0 else f"{self.base}:p{lane - 1}"

    def delayed(self, lane: int, group: str) -> str:
        return f"{self.stream(lane)}:d:{group}"

    @property
    def dead_letters(self) -> bool:
        return self.topic.endswith(".dlq")


def encode_ref(lane: int, entry_id: bytes) -> int:
    """A stream entry id ``ms-seq`` and its lane as one ordered integer."""
    ms, _, seq = entry_id.partition(b"-")
    return ((int(ms) << 32 | int(seq or 0)) * _LANES) + lane


def decode_ref(ref: int) -> tuple[int, str]:
    stamp, lane = divmod(ref, _LANES)
    return lane, f"{stamp >> 32}-{stamp & 0xFFFFFFFF}"


_LAST_SEQ = (1 << 64) - 1


def ms_at(epoch: float) -> int:
    """The first whole millisecond at or after ``epoch``: entry ids count milliseconds."""
    return math.ceil(epoch * 1000 - 1e-6)  # an entry's own time, ms / 1000, maps back to ms


def group_start(start: str | float) -> str:
    """The id a new group starts after (``XGROUP CREATE``): ``$`` for new messages only."""
    if start == "new":
        return "$"
    if start == "earliest" or isinstance(start, str):
        return "0-0"
    first = ms_at(start)
    return f"{first - 1}-{_LAST_SEQ}" if first > 0 else "0-0"
