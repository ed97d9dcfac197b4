"""Durable replies: the answer to a command that names a reply topic (``replyto``).

A command whose envelope carries the ``replyto`` extension attribute is answered with an event
on that topic, not over a private inbox: the reply is stored by the broker like any event, so a
requester that crashed gets it after it restarts. A subscriber's return value becomes that
event and is held back with the handler's other events (so with an inbox it commits in the same
transaction as the handler's writes); a message dead-lettered after failing is answered with its
error. The reply's ``subject`` is the HTTP-like status ("200", or the error's), its
``correlationid`` the command's, its ``causationid`` the command's id, its data the handler's
return value or the error body; its id is ``{command id}:reply:{status}``, so a copy is dropped as a
duplicate.
"""

from __future__ import annotations

import msgspec

from interlink._envelope import Envelope, format_time

__all__ = ["REPLY_TYPE", "reply_event", "reply_status"]

REPLY_TYPE = "interlink.reply"


def reply_event(
    command: Envelope, status: int, body: bytes, *, source: str, now: float
) -> Envelope:
    return Envelope(
        id=f"{command.id}:reply:{status}",
        source=source,
        type=REPLY_TYPE,
        specversion="1.0",
        time=format_time(now),
        subject=str(status),
        traceparent=command.traceparent,
        tracestate=command.tracestate,
        correlationid=command.correlationid,
        causationid=command.id,
        data=msgspec.Raw(body),
    )


def reply_status(envelope: Envelope) -> int:
    """The status a reply event carries (500 when it carries none that parses)."""
    try:
        return int(envelope.subject or "500")
    except ValueError:
        return 500
