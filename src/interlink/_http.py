"""``HttpTimeouts``: how long an App's HTTP server waits on a client (configuration only; the
server that applies it lives in ``interlink.transport.http``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["DEFAULT_HTTP_TIMEOUTS", "HttpTimeouts", "as_seconds"]

# Invariant (pinned by tests/unit/test_http_timeouts.py): these are transport.http._client's
# SERVER_KEEPALIVE and CLIENT_KEEPALIVE, not imported so that `import interlink` does not load
# the HTTP server.
_SERVER_KEEPALIVE = 5.0
_CLIENT_KEEPALIVE = 4.0


@dataclass(frozen=True, kw_only=True, slots=True)
class HttpTimeouts:
    """How long the server waits on a client before it gives up on the connection.

    ``header`` (10 s): from the connection's first moment (or the first byte of a next request
    on a kept-alive connection) until the whole request head has arrived. A head that started
    and did not finish is answered 408; a connection that never sent a byte is closed.
    ``body`` (30 s): from the end of the head until the whole body has arrived (408).
    ``keep_alive`` (5 s): how long an idle connection is kept between two requests. It must
    stay above interlink's own client keep-alive (4 s), which lets go of an idle connection
    before the server closes it; a shorter one would close connections clients are reusing.
    """

    header: float | timedelta = 10.0
    body: float | timedelta = 30.0
    keep_alive: float | timedelta = _SERVER_KEEPALIVE

    def __post_init__(self) -> None:
        for name in ("header", "body", "keep_alive"):
            object.__setattr__(self, name, as_seconds(getattr(self, name), f"{name} timeout"))
        if as_seconds(self.keep_alive) <= _CLIENT_KEEPALIVE:
            raise ValueError(
                f"keep_alive must be above {_CLIENT_KEEPALIVE} s, the keep-alive of interlink's "
                f"own client, not {self.keep_alive}: a shorter one closes connections that "
                "clients are about to reuse"
            )


def as_seconds(value: float | timedelta, what: str = "timeout") -> float:
    """``value`` in seconds, which must be positive and finite."""
    if isinstance(value, bool) or not isinstance(value, int | float | timedelta):
        raise TypeError(f"{what} must be seconds (a number or a timedelta), not {value!r}")
    result = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not math.isfinite(result) or result <= 0:
        raise ValueError(f"{what} must be a positive number of seconds, not {value!r}")
    return result


DEFAULT_HTTP_TIMEOUTS = HttpTimeouts()
