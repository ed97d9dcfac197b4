"""interlink errors as GraphQL errors: the message, and what a client needs in ``extensions``."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from interlink._errors import (
    CallError,
    InterlinkError,
    InvalidRequest,
    RemoteError,
    ValidationFailed,
)

__all__ = ["graphql_error"]


def graphql_error(exc: InterlinkError) -> GraphQLError:
    """``extensions.type`` is the error type interlink's HTTP error body would carry (the
    callee's declared type for an error it raised); ``extensions.exception`` is the interlink
    exception class the caller got."""
    extensions: dict[str, Any] = {"type": type(exc).__name__, "exception": type(exc).__name__}
    if isinstance(exc, RemoteError):
        extensions["type"] = exc.remote_type
        extensions["status"] = exc.status
        message = exc.args[0] if exc.args else str(exc)
    else:
        message = str(exc)
    if isinstance(exc, CallError):
        extensions["not_processed"] = exc.not_processed
        if exc.retry_after is not None:
            extensions["retry_after"] = exc.retry_after
    if isinstance(exc, (ValidationFailed, InvalidRequest)):
        extensions["errors"] = [dict(e) for e in exc.errors]
    return GraphQLError(message, extensions=extensions)
