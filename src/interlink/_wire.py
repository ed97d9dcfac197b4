"""The stable error body, both ways: exceptions to ``{"error": {...}}`` and back.

The same mapping serves HTTP and in-process calls, so a caller cannot tell them apart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import msgspec

from interlink._errors import (
    ApplicationError,
    CallError,
    DeadlineExceeded,
    FieldError,
    InvalidRequest,
    MethodNotFound,
    PermissionDenied,
    RemoteError,
    ServiceUnavailable,
)

__all__ = ["Outcome", "classify_failure", "error_outcome", "outcome_to_error"]

log = logging.getLogger("interlink")

_ENCODE = msgspec.json.encode


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a handler invocation produced: a status and a JSON body."""

    status: int
    body: bytes


def error_outcome(
    status: int,
    type_name: str,
    message: str,
    *,
    service: str,
    method: str,
    correlation_id: str,
    errors: list[FieldError] | None = None,
    retryable: bool = False,
) -> Outcome:
    error: dict[str, Any] = {
        "type": type_name,
        "message": message,
        "service": service,
        "method": method,
        "correlation_id": correlation_id,
    }
    if errors is not None:
        error["errors"] = errors
    if retryable:
        error["retryable"] = True
    return Outcome(status, _ENCODE({"error": error}))


def outcome_to_error(outcome: Outcome, service: str, method: str) -> CallError:
    """Turn a non-200 outcome back into the typed error the caller raises."""
    try:
        error = msgspec.json.decode(outcome.body)["error"]
        type_name, message = str(error["type"]), str(error["message"])
    except (msgspec.DecodeError, KeyError, TypeError):
        snippet = outcome.body[:200].decode("utf-8", "replace")
        return RemoteError(
            f"HTTP {outcome.status}: {snippet}",
            remote_type="HTTPError",
            status=outcome.status,
            service=service,
            method=method,
        )
    status = outcome.status
    if status == 404 and type_name == "MethodNotFound":
        return MethodNotFound(message)
    if status == 422:
        return InvalidRequest(message, error.get("errors") or [])
    if status == 504 and type_name == "DeadlineExceeded":
        return DeadlineExceeded(message)
    if status == 503 and type_name == "ServiceUnavailable":
        return ServiceUnavailable(message)
    if status == 403 and type_name == "PermissionDenied":
        return PermissionDenied(message)
    return RemoteError(
        message,
        remote_type=type_name,
        status=status,
        service=str(error.get("service", service)),
        method=str(error.get("method", method)),
        correlation_id=str(error.get("correlation_id", "")),
        retryable=error.get("retryable") is True,
    )


def classify_failure(exc: Exception, where: str, correlation_id: str) -> tuple[int, str, str]:
    """Status, type and message for an exception that escaped a handler.

    A downstream client error (4xx) passes through unchanged: the original request caused it.
    Anything unexpected is logged here with its traceback; the caller gets its type name and a
    generic message naming the correlation id, never its text (which may hold a password in a
    connection string, a query, a path).
    """
    if isinstance(exc, (TimeoutError, DeadlineExceeded)):
        return 504, "DeadlineExceeded", f"{where} did not finish before its deadline"
    if isinstance(exc, ApplicationError):
        return exc.status, exc.type, str(exc)
    if isinstance(exc, RemoteError) and 400 <= exc.status < 500:
        return exc.status, exc.remote_type, str(exc.args[0])
    log.error("%s failed (correlation id %s)", where, correlation_id, exc_info=exc)
    return (
        500,
        type(exc).__name__,
        f"{where} failed; its log has the details under correlation id {correlation_id}",
    )
