"""interlink statuses to gRPC status codes and back.

Every error answer also carries, in its trailing metadata, ``interlink-status`` (the HTTP-style
status) and ``interlink-error-bin`` (the JSON error body, as HTTP would answer it), so an
interlink caller raises exactly what it would over HTTP; other clients read the code.
"""

from __future__ import annotations

from typing import Any

import grpc  # type: ignore[import-untyped]

__all__ = ["ERROR_KEY", "STATUS_KEY", "code_of", "status_of"]

STATUS_KEY = "interlink-status"
ERROR_KEY = "interlink-error-bin"

_CODES: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ABORTED,
    412: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def code_of(status: int, type_name: str) -> grpc.StatusCode:
    """The gRPC code for an error answer: the table in docs/transports.md."""
    if status == 404 and type_name == "MethodNotFound":
        return grpc.StatusCode.UNIMPLEMENTED
    code = _CODES.get(status)
    if code is not None:
        return code
    return grpc.StatusCode.FAILED_PRECONDITION if status < 500 else grpc.StatusCode.INTERNAL


_STATUS: dict[Any, tuple[int, str]] = {
    grpc.StatusCode.UNIMPLEMENTED: (404, "MethodNotFound"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (413, "PayloadTooLarge"),
    grpc.StatusCode.INVALID_ARGUMENT: (400, "BadRequest"),
}


def status_of(code: grpc.StatusCode) -> tuple[int, str] | None:
    """For an error without interlink's details (raised by gRPC itself): the status and type
    an interlink caller reports, or None when it is a failure of the call itself."""
    return _STATUS.get(code)
