"""RFC 3339 timestamps, the CloudEvents ``Timestamp`` type: written in UTC, read strictly.

Reading accepts exactly RFC 3339's ``date-time``: a full date, ``T``, a full time with optional
fraction, and a zone (``Z`` or ``±hh:mm``); ``t`` and ``z`` may be lowercase, and a leap second
(``:60``) counts as the next second. Everything else that ``datetime.fromisoformat`` takes (a
date alone, week dates, ordinal dates, a space for ``T``, no zone, ``+hhmm``) is refused.
"""

from __future__ import annotations

import re
import time as _time
from datetime import date

from interlink._errors import CodecError

__all__ = ["format_time", "parse_time"]

_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class _SecondCache:
    """Formatting the date part costs microseconds and changes once a second. A call formats
    two instants (its time and its deadline), so the last four seconds are kept."""

    __slots__ = ("prefixes",)

    def __init__(self) -> None:
        self.prefixes: dict[int, str] = {}

    def prefix(self, whole: int) -> str:
        found = self.prefixes.get(whole)
        if found is None:
            if len(self.prefixes) >= 4:
                self.prefixes.clear()
            found = self.prefixes[whole] = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(whole))
        return found


_SECONDS = _SecondCache()


def format_time(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds."""
    whole = int(epoch)
    return f"{_SECONDS.prefix(whole)}.{int((epoch - whole) * 1000):03d}Z"


def parse_time(text: str) -> float:
    """Epoch seconds of an RFC 3339 ``date-time``; a CodecError for anything else."""
    # The form format_time writes, whole seconds already checked (every deadline a peer sends):
    # ``<19 cached characters>.ddd[Zz]`` is a valid date-time as it stands, no match needed.
    if len(text) == 24 and text[19] == "." and text[23] in "Zz":
        whole = _WHOLE_SECONDS.get(text[:19])
        millis = text[20:23]
        if whole is not None and millis.isascii() and millis.isdigit():
            return whole + float(text[19:23])
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise CodecError(f"not an RFC 3339 time with a zone: {text!r}")
    # Deadlines of calls in flight share few whole seconds: the checked date and time of day
    # are kept by their text (the first 19 characters), as format_time keeps its prefixes.
    whole = _WHOLE_SECONDS.get(text[:19])
    if whole is None:
        whole = _whole_seconds(text, *match.groups()[:6])
    fraction, sign, off_h, off_m = match.groups()[6:]
    epoch = whole + float(fraction) if fraction else float(whole)
    if sign is not None:
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            raise CodecError(f"not an RFC 3339 time (no such zone offset): {text!r}")
        offset = oh * 3600 + om * 60
        epoch -= offset if sign == "+" else -offset
    return epoch


_WHOLE_SECONDS: dict[str, int] = {}


def _whole_seconds(
    text: str, year: str, month: str, day: str, hour: str, minute: str, second: str
) -> int:
    try:
        days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise CodecError(f"not an RFC 3339 time (no such date): {text!r}") from None
    h, m, s = int(hour), int(minute), int(second)
    if h > 23 or m > 59 or s > 60:
        raise CodecError(f"not an RFC 3339 time (no such time of day): {text!r}")
    whole = days * 86400 + h * 3600 + m * 60 + s
    if len(_WHOLE_SECONDS) >= 64:
        _WHOLE_SECONDS.clear()
    _WHOLE_SECONDS[text[:19]] = whole
    return whole
