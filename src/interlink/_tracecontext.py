"""W3C Trace Context Level 1: ``traceparent`` and ``tracestate``, parsed and continued exactly.

A receiver *continues* a valid ``traceparent`` (same trace id, a new parent id for each request
it sends, the sampled flag passed on) and *restarts* the trace on an invalid or missing one,
dropping ``tracestate`` with it. The rules, section by section of the Recommendation:

- version ``00`` is exactly 55 characters: ``00-<32 hex>-<16 hex>-<2 hex>``, lowercase hex only;
- a higher version (not ``ff``, which is invalid) is parsed by its first four fields when it is
  at least 55 characters long and the flags are followed by the end or by ``-``; what follows
  is ignored, and what we send on is version ``00``;
- a trace id or a parent id of all zeros is invalid;
- of the flags only the sampled bit is defined; the others are sent on as zero;
- ``tracestate`` is a list of at most 32 ``key=value`` members, keys unique, with the key and
  value grammar of section 3.3.1; empty members and optional whitespace around members are
  allowed; a list that breaks any rule is dropped whole. Several headers are one list.

Leading and trailing spaces and tabs (HTTP's optional whitespace) are not part of a value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

__all__ = [
    "MAX_MEMBERS",
    "child_traceparent",
    "continue_trace",
    "new_traceparent",
    "parse_traceparent",
    "parse_tracestate",
    "put_tracestate",
]

MAX_MEMBERS = 32
"""The most list members a ``tracestate`` may have."""

_OWS = " \t"
# version, trace id, parent id, flags; version 00 must end there, a higher one may go on.
_FIELDS = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_PARENT = "0" * 16

_KEY_CHARS = r"[a-z0-9_\-*/]"
_KEY = rf"(?:[a-z]{_KEY_CHARS}{{0,255}}|[a-z0-9]{_KEY_CHARS}{{0,240}}@[a-z]{_KEY_CHARS}{{0,13}})"
# chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E (no ',' and no '=')
_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_MEMBER = re.compile(rf"({_KEY})=({_VALUE})")


def parse_traceparent(value: str | None) -> tuple[str, str, bool] | None:
    """``(trace_id, parent_id, sampled)`` of a valid header value, None for anything else."""
    if value is None:
        return None
    value = value.strip(_OWS)
    match = _FIELDS.match(value)
    if match is None:
        return None
    version, trace_id, parent_id, flags = match.groups()
    if version == "ff" or trace_id == _ZERO_TRACE or parent_id == _ZERO_PARENT:
        return None
    if len(value) != 55 and (version == "00" or value[55] != "-"):
        return None
    return trace_id, parent_id, bool(int(flags, 16) & 1)


def new_traceparent() -> str:
    """The start of a new trace (marked sampled, so that a tracer downstream records it)."""
    ids = os.urandom(24).hex()
    return f"00-{ids[:32]}-{ids[32:]}-01"


def child_traceparent(parent: str | None) -> str:
    """The ``traceparent`` of a request sent on behalf of ``parent``: the same trace and
    sampled flag with a new parent id, or a new trace when ``parent`` is missing or invalid."""
    fields = parse_traceparent(parent)
    if fields is None:
        return new_traceparent()
    trace_id, _, sampled = fields
    return f"00-{trace_id}-{os.urandom(8).hex()}-{'01' if sampled else '00'}"


def continue_trace(traceparent: str | None, tracestate: str | None) -> tuple[str, str | None]:
    """What a receiver works under: the validated ``traceparent`` it was sent (written as
    version 00) with its validated ``tracestate``, or a new trace and no ``tracestate``."""
    fields = parse_traceparent(traceparent)
    if fields is None:
        return new_traceparent(), None
    trace_id, parent_id, sampled = fields
    state = None if tracestate is None else parse_tracestate((tracestate,))
    return f"00-{trace_id}-{parent_id}-{'01' if sampled else '00'}", state


def parse_tracestate(values: Iterable[str]) -> str | None:
    """The list in one or more ``tracestate`` header values, written back without optional
    whitespace or empty members; None when it is empty or breaks a rule."""
    members: list[str] = []
    keys: set[str] = set()
    for value in values:
        for raw in value.split(","):
            member = raw.strip(_OWS)
            if not member:
                continue
            match = _MEMBER.fullmatch(member)
            if match is None or match[1] in keys:
                return None
            keys.add(match[1])
            members.append(member)
    if not members or len(members) > MAX_MEMBERS:
        return None
    return ",".join(members)


def put_tracestate(tracestate: str | None, key: str, value: str) -> str:
    """Add or update our own member: it goes to the left of the list (a changed member moves
    there too), and the rightmost members are dropped beyond 32."""
    member = f"{key}={value}"
    if _MEMBER.fullmatch(member) is None:
        raise ValueError(f"not a valid tracestate member: {member!r}")
    others = [m for m in (tracestate or "").split(",") if m and m.partition("=")[0] != key]
    return ",".join([member, *others][:MAX_MEMBERS])
