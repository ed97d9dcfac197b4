"""Where a new consumer group starts reading a topic: ``subscribe(..., start_from=…)``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeAlias

from interlink._errors import CodecError, ConfigurationError
from interlink._rfc3339 import parse_time

__all__ = ["StartFrom", "start_point"]

StartFrom: TypeAlias = Literal["new", "earliest"] | datetime
"""``"new"``: messages published after the group was created; ``"earliest"``: also every
message the topic still retains; an aware ``datetime``: also the retained messages stored at
or after it."""


def start_point(start_from: StartFrom | str) -> Literal["new", "earliest"] | float:
    """``"new"``, ``"earliest"``, or the start as epoch seconds; an RFC 3339 string (from a URL
    or the command line) is read as a time. A naive datetime is refused: it names no instant."""
    if start_from == "new":
        return "new"
    if start_from == "earliest":
        return "earliest"
    if isinstance(start_from, datetime):
        if start_from.utcoffset() is None:
            raise ConfigurationError(
                f"start_from={start_from!r} has no time zone: pass an aware datetime"
            )
        return start_from.timestamp()
    try:
        return parse_time(start_from)
    except CodecError:
        raise ConfigurationError(
            f'start_from must be "new", "earliest" or an aware datetime, not {start_from!r}'
        ) from None
