"""The stable error body, both ways: exceptions to ``{"error": {...}}`` and back.

The same mapping serves HTTP and in-process calls, so a caller cannot tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from interlink._errors import (
    CallError,
    DeadlineExceeded,
    FieldError,
    InvalidRequest,
    MethodNotFound,
    RemoteError,
    ServiceUnavailable,
)

__all__ = ["Outcome", "error_outcome", "outcome_to_error"]

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
    return RemoteError(
        message,
        remote_type=type_name,
        status=status,
        service=str(error.get("service", service)),
        method=str(error.get("method", method)),
        correlation_id=str(error.get("correlation_id", "")),
        retryable=error.get("retryable") is True,
    )
