"""What a handler's failure answers: the outcome of an exception, of a request refused
before its handler ran, and the one-time warning for an answer its declaration leaves out."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from interlink._errors import ApplicationError, RemoteError
from interlink._wire import Outcome, classify_failure, error_outcome

if TYPE_CHECKING:
    from interlink._envelope import Envelope
    from interlink._handlers import Route, Rpc

__all__ = ["Failures", "denied", "refused"]

log = logging.getLogger("interlink")

_BAD_REQUEST = frozenset({400, 413, 415, 422})
"""Statuses that say the request itself is wrong: sending it again cannot help."""
_WARNINGS_KEPT = 1000


def denied(where: str, peer: str | None) -> str:
    """The 403 message for a caller ``allow=`` leaves out."""
    who = "a caller without a service identity" if peer is None else f"service {peer!r}"
    return f"{where} does not accept calls from {who}"


def refused(
    handler: Rpc[Any, Any],
    envelope: Envelope,
    status: int,
    type_name: str,
    message: str,
    errors: Any = None,
) -> Outcome:
    """The outcome of a request refused before its handler ran."""
    return error_outcome(
        status,
        type_name,
        message,
        service=handler.service,
        method=handler.name,
        correlation_id=envelope.correlationid or envelope.id,
        errors=errors,
        retryable=handler.idempotent and status >= 500,
    )


class Failures:
    """Maps a handler's exception to its outcome; remembers (bounded) which undeclared answers
    it has warned about."""

    def __init__(self) -> None:
        self._undeclared: set[tuple[str, int, str]] = set()

    def failed(
        self,
        exc: Exception,
        where: str,
        handler: Rpc[Any, Any] | Route,
        correlation_id: str,
        idempotent: bool,
    ) -> Outcome:
        """The outcome of a handler that raised. A retry is offered only where it can help:
        never for a bad request, on a 5xx of an idempotent handler, or where the error says so."""
        status, type_name, message = classify_failure(exc, where, correlation_id)
        if isinstance(exc, (ApplicationError, RemoteError)) and status not in (500, 504):
            self._check_declared(where, handler, status, type_name)
        explicit = isinstance(exc, ApplicationError) and exc.retryable
        retryable = status not in _BAD_REQUEST and (explicit or (idempotent and status >= 500))
        return error_outcome(
            status,
            type_name,
            message,
            service=handler.service,
            method=handler.name,
            correlation_id=correlation_id,
            retryable=retryable,
        )

    def _check_declared(
        self, where: str, handler: Rpc[Any, Any] | Route, status: int, type_name: str
    ) -> None:
        """Warn, once per handler, status and type, of an answer its declaration leaves out
        (its OpenAPI document does not list it)."""
        if any(e.status == status and e.type == type_name for e in handler.errors):
            return
        key = (where, status, type_name)
        if key in self._undeclared or len(self._undeclared) >= _WARNINGS_KEPT:
            return
        self._undeclared.add(key)
        log.warning(
            "%s answered %d %s, which it does not declare: declare `class %s(il.ApplicationError)"
            ": status = %d` and list it in errors=[...] so its OpenAPI document tells callers",
            where,
            status,
            type_name,
            type_name,
            status,
        )
